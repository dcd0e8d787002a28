"""The node and the incident's chain, end to end on real parts, with shortened thresholds.

The replay notebook and `make reproduce` use the incident's absolute values (30 s, 20 s); here the
same mechanism is driven with seconds-scale limits so the suite stays quick.
"""

from __future__ import annotations

import pytest

from asrlab.service.remedies import REMEDIES, remedy
from asrlab.service.replay import ReplayConfig, replay, summary

# Job A: the replay's pink noise, 40 s of it: two windows; each climbs the ladder as far as the
# CPU's arithmetic lets it (conftest.py), and two make A's decode >= 20 s even where both stop at
# the second rung. B: 4.3 s of Mandarin, held over 3 s on the AMD lab machines once A's worker is
# respawned (revoke_overdue), so hold_max keeps the incident's order: B's job << hold_max < ASR
# timeout << A's decode.
HOLD_MAX_S, ASR_TIMEOUT_S = 6.0, 12.0
SCALED = dict(
    a_length_s=40.0,
    b_source="zh_aishell_BAC009S0724W0121",
    asr_timeout_s=ASR_TIMEOUT_S,
    segments_timeout_s=8.0,
    hold_max_ms=HOLD_MAX_S * 1000,
    acquire_timeout_ms=2000.0,
)


@pytest.fixture(scope="module")
def baseline(worker_processes: None):
    return replay(ReplayConfig(remedy="incident", **SCALED))


@pytest.mark.model
@pytest.mark.worker
def test_the_incident_chain(baseline) -> None:
    a, b = baseline.a, baseline.b
    print(a.timeline, b.timeline, sep="\n")
    # B is refused with exactly the text the web client showed.
    assert b.status == "failed" and b.client_error == "GPU lease timeout: GPU_USAGE_HIGH"
    assert b.lease_wait_s == pytest.approx(2.0, abs=0.3)
    # A timed out at the ASR timeout, after holding its lease past hold_max ...
    assert a.status == "failed" and a.client_error.startswith("ASR task timeout")
    assert a.lease_overdue and a.lease_held_s > HOLD_MAX_S
    assert a.total_s == pytest.approx(ASR_TIMEOUT_S, abs=0.5)  # the answer, not the late result
    # ... and its result arrived late and was discarded.
    events = [e for e, _ in a.timeline]
    assert a.worker is not None
    assert "result arrived late: discarded" in events and a.worker.late_result
    assert a.worker.work_after_deadline_s > 5.0
    for row in ("received", "decoded", "VAD done", "lease granted", "submitted", "worker started"):
        assert row in events
    # The same instants as the row's fields (results.parquet), not as columns named by the text
    row, at = a.row(), dict(a.timeline)
    assert (row.t_lease_granted_s, row.t_worker_started_s) == (
        at["lease granted"],
        at["worker started"],
    )
    assert row.t_late_result_s == at["result arrived late: discarded"] > row.t_failed_s
    assert row.error_type == "AsrTimeout" and row.worker_late_result
    assert b.row().error_type == "LeaseRejected" and b.row().t_lease_granted_s is None


@pytest.mark.model
@pytest.mark.worker
def test_stage_table_has_the_incident_rows(baseline) -> None:
    stages = [r["stage"] for r in baseline.a.stage_rows()]
    assert stages == ["audio decode", "VAD", "transcribe()", "list(segments)", "total"]


@pytest.mark.model
@pytest.mark.worker
def test_a_remedy_under_which_both_jobs_succeed(baseline) -> None:
    result = replay(ReplayConfig(remedy="vad_gate+hard_kill+no_fallback+beam_5", **SCALED))
    a, b = result.a, result.b
    print(summary(result.frame()))
    assert a.status == "ok" and b.status == "ok"
    assert a.text == baseline.a.text == ""  # noise: no transcript before, none after
    assert b.text  # B's Mandarin is transcribed
    for record in (a, b):
        assert not record.lease_overdue


def test_every_remedy_has_a_reason_and_valid_parts() -> None:
    from asrlab.service.arbiter import POLICIES
    from asrlab.service.policy import POLICIES as WORKER_POLICIES

    for name, r in REMEDIES.items():
        assert r.name == name and r.why
        assert r.policy in WORKER_POLICIES and r.arbiter_policy in POLICIES
    with pytest.raises(Exception, match="available: incident"):
        remedy("more_gpus")


@pytest.mark.model
@pytest.mark.worker
def test_revoke_overdue_cancels_a_and_serves_b(worker_processes: None) -> None:
    result = replay(ReplayConfig(remedy="revoke_overdue", **SCALED))
    a, b = result.a, result.b
    assert a.status == "failed" and "revoked" in a.client_error
    assert a.total_s == pytest.approx(HOLD_MAX_S, abs=0.5)  # at hold_max, not at the ASR timeout
    assert a.worker is not None and a.worker.killed and b.status == "ok" and b.text
    assert [e["kind"] for e in result.arbiter_events].count("revoke") == 1


@pytest.mark.model
@pytest.mark.worker
def test_a_dropped_loop_reaches_the_client_as_a_notice(worker_processes: None) -> None:
    """reject_loops through the real worker and node: with a compression-ratio threshold every
    transcript exceeds, jfk.flac's window counts as a loop and is dropped; the client gets an
    answer (ok, empty) that says why, as it does for audio the VAD gate did not decode."""
    from dataclasses import replace

    from asrlab.audio import corpus
    from asrlab.service.arbiter import ArbiterConfig
    from asrlab.service.manager import WorkerManager
    from asrlab.service.node import Node
    from asrlab.service.realtime import RealtimeArbiter
    from asrlab.service.worker import WorkerConfig

    chosen = remedy("reject_loops")
    strict = replace(chosen, decode=replace(chosen.decode, compression_ratio_threshold=0.1))
    worker = WorkerConfig(model="base", compute_type="int8", policy=strict.policy)
    with WorkerManager(worker) as manager, RealtimeArbiter(ArbiterConfig()) as arbiter:
        record = Node(arbiter, manager, strict).run("jfk", corpus.get("jfk").load())
    assert record.status == "ok" and record.client_error is None and record.text == ""
    assert record.notice == "unintelligible: window(s) 0 dropped"
    assert "unintelligible: 1 window(s) dropped" in dict(record.timeline)
    assert record.row().notice == record.notice and record.row().t_windows_dropped_s is not None


@pytest.mark.model
@pytest.mark.worker
def test_the_service_wires_its_usage_sampler_into_the_arbiter(worker_processes: None) -> None:
    """No GPU here, so the wiring is shown with the scripted sampler: the device reads 95 % busy
    throughout, so B is refused with the incident's text although no lease is overdue (A is
    noise, which the gate does not decode, so A holds no lease at all)."""
    config = ReplayConfig(
        remedy="vad_gate+hard_kill+no_fallback+beam_5", usage="scripted:0.95", **SCALED
    )
    result = replay(config)
    assert result.a.status == "ok" and result.a.lease_token is None
    assert result.b.status == "failed"
    assert result.b.client_error == "GPU lease timeout: GPU_USAGE_HIGH"
