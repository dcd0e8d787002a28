"""A workload as data: seeded arrivals, the plan, the mix and its checks, each job's audio."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from asrlab.errors import ConfigError
from asrlab.workload.sources import load_item
from asrlab.workload.traffic import DEFAULT_MIX, MixItem, WorkloadConfig, plan, poisson_arrivals

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
