"""Workloads: the seeded plan and the cascade rule on their own, then one real workload.

The real workload is the incident's cascade under traffic, scaled to seconds with tiny.en: a
pink-noise job climbs the fallback ladder past ``hold_max_ms`` and a speech job that arrives
while its lease is overdue is refused with the incident's text.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest

from asrlab.arbiter import ArbiterConfig, LeaseArbiter
from asrlab.errors import ConfigError
from asrlab.load import (
    ATTRIBUTIONS,
    DEFAULT_MIX,
    MixItem,
    WorkloadConfig,
    attribute,
    load_item,
    plan,
    poisson_arrivals,
    run_workload,
    summarize,
    summary_frame,
)

# --- arrivals and the plan ------------------------------------------------------------------


def test_arrivals_are_seeded_and_start_at_zero() -> None:
    a = poisson_arrivals(6.0, 50, np.random.default_rng(7))
    b = poisson_arrivals(6.0, 50, np.random.default_rng(7))
    c = poisson_arrivals(6.0, 50, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a[0] == 0.0 and len(a) == 50 and (np.diff(a) > 0).all()


@pytest.mark.parametrize("rate_per_min", [0.5, 6.0, 120.0])
def test_arrivals_have_the_mean_rate_and_exponential_gaps(rate_per_min: float) -> None:
    n = 20_000
    gaps = np.diff(poisson_arrivals(rate_per_min, n, np.random.default_rng(0)))
    mean_gap_s = 60.0 / rate_per_min
    # The mean of 20,000 exponential gaps has a relative standard error of 0.7 %: 3 % is 4 sigma.
    assert gaps.mean() == pytest.approx(mean_gap_s, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)  # exponential: CV 1


def test_a_plan_is_reproducible_and_follows_the_weights() -> None:
    config = WorkloadConfig(n_jobs=4000, seed=3)
    jobs = plan(config)
    assert jobs == plan(config)
    assert [j.arrival_s for j in jobs] != [j.arrival_s for j in plan(replace(config, seed=4))]
    assert len({j.job_id for j in jobs}) == 4000 and jobs[0].job_id == "job-0000"
    share = pd.Series([j.item for j in jobs]).value_counts(normalize=True)
    for item in DEFAULT_MIX:
        assert share[item] == pytest.approx(item.weight, abs=0.025)
    # The mix is drawn from its own stream: another mix, the same arrival instants.
    other = plan(replace(config, mix=(("pink_noise", 11.2, 1.0),)))
    assert [j.arrival_s for j in other] == [j.arrival_s for j in jobs]
    assert len({j.job_seed for j in other}) > 3900  # each noise job is its own signal


def test_a_jobs_audio_is_reproducible() -> None:
    item = MixItem("pink_noise", 2.0)
    assert np.array_equal(load_item(item, 5).samples, load_item(item, 5).samples)
    assert not np.array_equal(load_item(item, 5).samples, load_item(item, 6).samples)
    speech = load_item(MixItem("lang:zh", 11.2), 5)
    assert len(speech.samples) == 11.2 * 16_000 and speech.language == "zh" and speech.reference
    whole = load_item(MixItem("lang:en"), 5)
    assert whole.audio_class == "speech" and len(whole.samples) <= 30 * 16_000
    assert load_item(MixItem("jfk"), 0).reference.startswith("And so my fellow Americans")


def test_plain_tuples_become_mix_items() -> None:
    config = WorkloadConfig(mix=[("lang:zh", None, 2), ("tone", 3.0, 1, 9)])
    assert config.mix == (MixItem("lang:zh", None, 2), MixItem("tone", 3.0, 1, 9))
    assert '"tone", 3.0, 1, 9' in config.row()["workload_mix"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mix": ()}, "mix"),
        ({"mix": [("no_such_clip", None, 1.0)]}, "clip_id"),
        ({"mix": [("lang:xx", None, 1.0)]}, "mix.source"),
        ({"mix": [("white_noise", None, 1.0)]}, "mix.length_s"),
        ({"mix": [("white_noise", 0.0, 1.0)]}, "mix.length_s"),
        ({"mix": [("jfk", None, 0.0)]}, "mix.weight"),
        ({"mix": [("jfk", None, math.nan)]}, "mix.weight"),
        ({"mix": [("jfk", None, 1.0, -1)]}, "mix.noise_seed"),
        ({"mix": [("jfk", None, 1.0, 0, "extra")]}, "mix"),
        ({"remedy": "more_gpus"}, "remedy"),
        ({"rate_per_min": 0.0}, "rate_per_min"),
        ({"rate_per_min": math.inf}, "rate_per_min"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"clients": 0}, "clients"),
        ({"capacity": 0}, "capacity"),
        ({"seed": -1}, "seed"),
        ({"asr_timeout_s": 0.0}, "asr_timeout_s"),
        ({"segments_timeout_s": -1.0}, "segments_timeout_s"),
        ({"hold_max_ms": 0.0}, "hold_max_ms"),
        ({"acquire_timeout_ms": -1.0}, "acquire_timeout_ms"),
        ({"worker_threads": -1}, "worker_threads"),
    ],
)
def test_bad_workloads_are_refused(fields: dict, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WorkloadConfig(**fields)
    assert caught.value.field == field


def test_a_file_in_the_mix_is_taken_whole(tmp_path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF")
    assert WorkloadConfig(mix=[(str(path), None, 1.0)]).mix[0].source == str(path)
    with pytest.raises(ConfigError, match="taken whole"):
        WorkloadConfig(mix=[(str(path), 5.0, 1.0)])


# --- the cascade rule, on events from the real state machine --------------------------------


def _incident_trace() -> tuple[pd.DataFrame, list[dict]]:
    """Job a holds its lease (hold_max 1.5 s) until 4 s; b gives up at 1 s (not yet overdue), c
    at 3 s (overdue), d after a's release at the same instant; e is bad audio, f succeeds."""
    arb = LeaseArbiter(ArbiterConfig(default_hold_max_ms=1500.0, acquire_timeout_ms=1000.0))
    lease = arb.request("a", 0.0).lease
    assert lease is not None
    for holder, asked_ms, gave_up_ms in (("b", 0.0, 1000.0), ("c", 2000.0, 3000.0)):
        arb.cancel(arb.request(holder, asked_ms).ticket, gave_up_ms)
    ticket = arb.request("d", 3000.0).ticket
    arb.release(lease.token, 4000.0)  # in the trace before d's cancel at the same instant
    arb.cancel(ticket, 4000.0)
    rows = pd.DataFrame(
        [
            ("a", "failed", "AsrTimeout", 1.5),
            ("b", "failed", "LeaseRejected", None),
            ("c", "failed", "LeaseRejected", None),
            ("d", "failed", "LeaseRejected", None),
            ("e", "failed", "AudioError", None),
            ("f", "ok", None, None),
        ],
        columns=["job_id", "status", "error_type", "lease_hold_max_s"],
    )
    return rows, [asdict(e) for e in arb.events]


def test_the_cascade_rule() -> None:
    rows, events = _incident_trace()
    got = attribute(rows, events)
    assert list(got["attribution"]) == [
        "own_timeout",  # a: its own ASR timeout
        "refused_other",  # b: a full device, but a was not overdue yet
        "cascade",  # c: refused while a's lease was overdue
        "refused_other",  # d: a had been released when d gave up
        "bad_input",
        None,
    ]
    assert got["blamed"].tolist() == [None, None, "a", None, None, None]


def test_an_immediate_deadline_aware_refusal_while_overdue_is_a_cascade() -> None:
    arb = LeaseArbiter(ArbiterConfig(default_hold_max_ms=1500.0, policy="deadline_aware"))
    arb.request("a", 0.0)
    assert arb.request("b", 2000.0, deadline_ms=9000.0).status == "refused"
    rows = pd.DataFrame(
        [("a", "ok", None, 1.5), ("b", "failed", "LeaseRejected", None)],
        columns=["job_id", "status", "error_type", "lease_hold_max_s"],
    )
    assert attribute(rows, [asdict(e) for e in arb.events])["blamed"].tolist() == [None, "a"]


def test_summarize_counts_texts_and_attributions() -> None:
    rows, events = _incident_trace()
    rows = rows.assign(
        remedy="incident",
        client_error=[
            "ASR task timeout: job a passed its 4.0 s deadline while running (told after 4.001 s)",
            *["GPU lease timeout: HIGH_PRESSURE", "GPU lease timeout: GPU_USAGE_HIGH"],
            *["GPU lease timeout: NORMAL", "no samples: nothing to transcribe", None],
        ],
        latency_s=[4.0, 1.0, 1.0, 1.0, 0.01, 2.0],
        lease_wait_s=[0.0, 1.0, 1.0, 1.0, None, 0.0],
        worker_work_after_deadline_s=[4.3, None, None, None, None, 0.0],
        worker_late_result=[True, None, None, None, None, False],
    )
    line = summarize(rows, events)
    assert (line["n_jobs"], line["n_ok"]) == (6, 1)
    assert line["success_rate"] == pytest.approx(1 / 6)
    assert {k: line[k] for k in ATTRIBUTIONS} == {
        "own_timeout": 1,
        "cascade": 1,
        "refused_other": 2,
        "bad_input": 1,
    }
    assert line["errors"]["GPU lease timeout: GPU_USAGE_HIGH"] == 1
    assert "ASR task timeout: job <job> passed its # s deadline" in next(iter(line["error_kinds"]))
    assert line["latency_p50_s"] == pytest.approx(1.0)
    assert line["latency_p50_low_s"] <= 1.0 <= line["latency_p50_high_s"]
    assert line["lease_wait_p95_s"] == pytest.approx(1.0)
    assert (line["work_after_deadline_s"], line["late_results_discarded"]) == (4.3, 1)
    assert len(summary_frame(rows.assign(attribution=attribute(rows, events)["attribution"]))) == 1


# --- one real workload: the cascade, then the same traffic under a remedy -------------------

# A noise job that decodes for about 8 s with tiny.en at the incident preset (fixed seed: the
# decode time of noise depends on the signal), and a 3.3 s English utterance.
CASCADE_MIX = (
    MixItem("pink_noise", 11.2, 1.0, noise_seed=2),
    MixItem("en_librispeech_1089-134686-0001", None, 1.0),
)
SCALED = dict(
    model="tiny.en",
    asr_timeout_s=4.0,
    segments_timeout_s=3.0,
    hold_max_ms=1500.0,
    acquire_timeout_ms=1000.0,
    rate_per_min=30.0,
    n_jobs=2,
    clients=2,
    mix=CASCADE_MIX,
)


def _cascade_workload() -> WorkloadConfig:
    """The first seed whose plan is noise at 0 s, then speech while the noise lease is overdue.

    The noise's lease is granted at about 0.1 s, overdue from 1.6 s, released at its 4 s ASR
    timeout; speech arriving at 1.2-2.4 s gives up at 2.2-3.4 s, inside that window.
    """
    for seed in range(1000):
        config = WorkloadConfig(seed=seed, **SCALED)
        noise, speech = plan(config)
        if noise.item == CASCADE_MIX[0] and speech.item == CASCADE_MIX[1]:
            if 1.2 < speech.arrival_s < 2.4:
                return config
    raise AssertionError("no seed below 1000 gives the cascade's plan")


@pytest.fixture(scope="module")
def cascade():
    return run_workload(_cascade_workload(), progress=False)


def test_a_workload_reproduces_the_cascade(cascade) -> None:
    rows = cascade.frame().set_index("job_index")
    noise, speech = rows.loc[0], rows.loc[1]
    print(rows[["arrival_s", "status", "client_error", "attribution", "latency_s"]])
    assert speech["client_error"] == "GPU lease timeout: GPU_USAGE_HIGH"
    assert speech["attribution"] == "cascade" and speech["blamed"] == noise["job_id"]
    assert noise["attribution"] == "own_timeout" and noise["lease_overdue"]
    assert noise["client_error"].startswith("ASR task timeout")
    assert noise["worker_late_result"] and noise["worker_work_after_deadline_s"] > 0
    line = summarize(cascade.frame())
    assert (line["cascade"], line["own_timeout"], line["n_ok"]) == (1, 1, 0)
    assert line["late_results_discarded"] == 1
    assert line["latency_p50_s"] > 1.0  # the speech job waited its acquire timeout


def test_under_the_remedy_the_same_workload_has_no_cascade(cascade) -> None:
    config = replace(cascade.config, remedy="vad_gate+hard_kill+no_fallback+beam_5")
    result = run_workload(config, progress=False)
    rows = result.frame()
    assert list(rows["arrival_s"]) == list(cascade.frame()["arrival_s"])  # the same traffic
    assert (rows["status"] == "ok").all() and rows["attribution"].isna().all()
    speech = rows[rows["audio_class"] == "speech"].iloc[0]
    assert "stuffed it into you" in speech["text"].lower()
    assert summarize(rows)["cascade"] == 0
