"""The cascade rule and the summary line, on events from the real arbiter state machine."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import pytest

from asrlab.service.arbiter import ArbiterConfig, LeaseArbiter
from asrlab.workload.attribution import ATTRIBUTIONS, attribute, summarize, summary_frame

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
        "transport": 0,
    }
    assert line["errors"]["GPU lease timeout: GPU_USAGE_HIGH"] == 1
    assert "ASR task timeout: job <job> passed its # s deadline" in next(iter(line["error_kinds"]))
    assert line["latency_p50_s"] == pytest.approx(1.0)
    assert line["latency_p50_low_s"] <= 1.0 <= line["latency_p50_high_s"]
    assert line["lease_wait_p95_s"] == pytest.approx(1.0)
    assert (line["work_after_deadline_s"], line["late_results_discarded"]) == (4.3, 1)
    assert len(summary_frame(rows.assign(attribution=attribute(rows, events)["attribution"]))) == 1


def test_no_http_answer_is_the_transport_and_a_429_a_refusal() -> None:
    rows = pd.DataFrame(
        {
            "job_id": ["a", "b", "c", "d"],
            "status": ["failed", "failed", "ok", "failed"],
            "error_type": ["ConnectionError", "ClientTimeout", None, "QueueFull"],
            "lease_hold_max_s": [None, None, 1.0, None],
        }
    )
    got = attribute(rows, [])["attribution"].tolist()
    assert got == ["transport", "transport", None, "refused_other"]
