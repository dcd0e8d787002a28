"""One real workload: the incident's cascade under traffic, scaled to seconds with tiny.en.

A pink-noise job climbs the fallback ladder past ``hold_max_ms`` and a speech job that arrives
while its lease is overdue is refused with the incident's text; the same traffic under a remedy
has no cascade.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from scenarios import cascade_workload

from asrlab.service import rows as jobrows
from asrlab.workload.attribution import summarize
from asrlab.workload.real import run_workload

# --- one real workload: the cascade, then the same traffic under a remedy -------------------


@pytest.fixture(scope="module")
def cascade(worker_processes: None):
    return run_workload(cascade_workload(), progress=False)


@pytest.mark.model
@pytest.mark.worker
def test_a_workload_reproduces_the_cascade(cascade) -> None:
    noise, speech = cascade.rows  # the workload's `JobRow`s, in arrival order
    for r in cascade.rows:
        print(r.arrival_s, r.status, r.client_error, r.attribution, r.latency_s)
    assert speech.client_error == "GPU lease timeout: GPU_USAGE_HIGH"
    assert speech.attribution == "cascade" and speech.blamed == noise.job_id
    assert noise.attribution == "own_timeout" and noise.lease_overdue
    assert noise.client_error is not None and noise.client_error.startswith("ASR task timeout")
    assert noise.worker_late_result and (noise.worker_work_after_deadline_s or 0) > 0
    assert noise.error_type == "AsrTimeout" and noise.decode_wall_s is not None
    assert jobrows.rows_of(cascade.frame()) == list(cascade.rows)  # the table reads back
    line = summarize(cascade.frame())
    assert (line["cascade"], line["own_timeout"], line["n_ok"]) == (1, 1, 0)
    assert line["late_results_discarded"] == 1
    assert line["latency_p50_s"] > 1.0  # the speech job waited its acquire timeout


@pytest.mark.model
@pytest.mark.worker
def test_under_the_remedy_the_same_workload_has_no_cascade(cascade) -> None:
    config = replace(cascade.config, remedy="vad_gate+hard_kill+no_fallback+beam_5")
    result = run_workload(config, progress=False)
    rows = result.frame()
    assert list(rows["arrival_s"]) == list(cascade.frame()["arrival_s"])  # the same traffic
    assert (rows["status"] == "ok").all() and rows["attribution"].isna().all()
    speech = rows[rows["audio_class"] == "speech"].iloc[0]
    assert "stuffed it into you" in speech["text"].lower()
    assert summarize(rows)["cascade"] == 0
