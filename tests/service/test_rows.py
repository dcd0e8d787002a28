"""`JobRow`: the one record of a job that the real node and the SimPy twin both make, flattened
to a table in one place and read back from it; the timeline as named fields."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from asrlab.audio import corpus
from asrlab.errors import ConfigError
from asrlab.service import rows as jobrows
from asrlab.service.arbiter import ArbiterConfig
from asrlab.service.jobs import JobMetrics
from asrlab.service.node import JobRecord, Node
from asrlab.service.realtime import RealtimeArbiter
from asrlab.service.remedies import remedy
from asrlab.service.rows import NAMES, Column, JobRow, Mark
from asrlab.sim.core import SimConfig, simulate
from asrlab.sim.costs import COLUMNS
from asrlab.workload.traffic import MixItem, PlannedJob

GATED = "vad_gate+hard_kill"  # the VAD gate answers noise without a lease or a worker
NOISE = MixItem("pink_noise", 11.2, 1.0)


def _noise_costs() -> pd.DataFrame:
    """The twin's service-time table: pink noise, measured without speech under `GATED`."""
    row = {
        "kind": "job", "model": "base", "compute_type": "float32",
        "decode_hash": remedy(GATED).decode.config_hash(), "vad_gate": True,
        "source": "pink_noise", "length_s": 11.2, "audio": None, "audio_s": 11.2, "vad_s": 0.05,
        "speech": False, "service_s": math.nan, "stops_s": None, "code_version": "test",
        "measured_by": "test", "sampled": None,
    }  # fmt: skip
    return pd.DataFrame([row], columns=list(COLUMNS))


def test_the_real_node_and_the_twin_make_the_same_row_for_one_job() -> None:
    """One 11.2 s pink-noise job under the VAD gate: the real node (real VAD, real arbiter; no
    worker is asked) and the simulator each give a `JobRow`, of the same fields."""
    samples, _ = corpus.load_source("pink_noise", length_s=11.2, noise_seed=3)
    with RealtimeArbiter(ArbiterConfig()) as arbiter:
        node = Node(arbiter, None, remedy(GATED))  # type: ignore[arg-type]  # never reached
        real = node.run("job-0", samples).row()
    job = PlannedJob(0, "job-0", 0.0, NOISE, 3)
    config = SimConfig(remedy=GATED, n_jobs=1, mix=(NOISE,))
    (twin,) = simulate(config, _noise_costs(), jobs=[job], progress=False).jobs

    assert type(real) is type(twin) is JobRow
    assert [f.name for f in fields(real)] == [f.name for f in fields(twin)] == list(NAMES)
    assert (real.job_id, real.remedy, real.status) == (twin.job_id, twin.remedy, twin.status)
    assert (real.status, real.notice, real.lease_token) == ("ok", "no speech", None)
    assert not real.simulated and twin.simulated
    # The node's timeline, as fields; the twin keeps no timeline
    assert real.t_received_s == 0.0
    assert real.t_vad_done_s is not None and real.t_no_speech_s is not None
    assert real.t_result_delivered_s == real.answered_s == real.total_s
    assert twin.t_vad_done_s is None and twin.latency_s == pytest.approx(0.05)
    # One table of both, with one column per field
    table = jobrows.frame([real, twin])
    assert list(table.columns) == list(NAMES)
    assert jobrows.rows_of(table)[1] == twin


def test_a_failed_job_has_its_error_class_and_the_instant_it_was_told() -> None:
    with RealtimeArbiter(ArbiterConfig()) as arbiter:
        node = Node(arbiter, None, remedy(GATED))  # type: ignore[arg-type]  # never reached
        record = node.run("job-1", np.zeros(0, np.float32))  # no samples: an AudioError
    row = record.row()
    assert row.status == "failed" and row.error_type == "AudioError"
    assert row.t_failed_s == row.answered_s and row.t_decoded_s is None
    assert record.timeline[-1][0] == "failed: AudioError"  # the table shown is unchanged


def test_every_mark_sets_its_own_field_and_shows_its_text() -> None:
    record = JobRecord(job_id="j", remedy="incident", received=100.0)
    for k, mark in enumerate(Mark):
        record.mark(mark, 100.0 + k, detail="zh" if mark is Mark.LANGUAGE_DETECTED else "2")
    row = record.row()
    assert [getattr(row, mark.column) for mark in Mark] == [float(k) for k in range(len(Mark))]
    assert row.detected_language == "zh" and row.error_type == "2"
    shown = dict(record.timeline)
    assert "language detected: zh" in shown and "unintelligible: 2 window(s) dropped" in shown
    assert "result arrived late: discarded" in shown and "VAD done" in shown


def test_the_workers_measurements_keep_their_column_names() -> None:
    metrics = JobMetrics("j", "legacy_thread", "list", 30.0, 5.0, worker_start_s=0.01)
    metrics.late_result, metrics.work_after_deadline_s = True, 8.1
    record = JobRecord(job_id="j", remedy="incident", received=1.0, worker=metrics)
    row = record.row()
    assert row.worker_worker_start_s == 0.01 and row.worker_late_result is True
    assert row.worker_work_after_deadline_s == 8.1 and row.worker_policy == "legacy_thread"
    flat = jobrows.frame([row]).iloc[0]
    assert flat["worker_worker_start_s"] == 0.01 and flat["worker_submitted"] == 5.0


def test_column_names_are_fields() -> None:
    columns = {k: v for k, v in vars(Column).items() if not k.startswith("_")}
    assert columns and all(k == v and k in NAMES for k, v in columns.items())
    assert {m.column for m in Mark} <= set(NAMES)
    assert len({m.column for m in Mark}) == len(Mark)


def test_a_table_reads_back_into_the_same_rows(tmp_path) -> None:
    rows = [
        JobRow(job_id="a", remedy="incident", status="ok", lease_token=3, latency_s=1.5),
        JobRow(
            job_id="b", remedy="incident", status="failed", client_error="GPU lease timeout",
            worker_killed=True, mix_length_s=None, job_index=1, attribution="cascade",
            blamed="a",
        ),
    ]  # fmt: skip
    settings = {"workload_seed": 3, "workload_mix": json.dumps([["tone", 3.0, 1]])}
    table = jobrows.frame(rows, settings)
    assert list(table.columns) == [*NAMES, *settings]
    assert table["attribution"].tolist() == [None, "cascade"]  # as `attribute` gives it
    assert jobrows.rows_of(table) == rows
    written = tmp_path / "rows.parquet"
    schema = jobrows.arrow_schema(settings)
    import pyarrow.parquet as pq

    pq.write_table(jobrows.arrow_table(rows, settings, schema), written)
    back = pd.read_parquet(written)
    assert jobrows.rows_of(back) == rows and back["workload_seed"].tolist() == [3, 3]
    with pytest.raises(ConfigError, match="not a job row"):
        JobRow.from_flat({"status": "ok"})
    with pytest.raises(ConfigError, match="JobRow field"):
        jobrows.frame(rows, {"status": "x"})


def test_a_table_of_an_earlier_version_reads_back_with_none_for_what_it_lacks() -> None:
    old = pd.DataFrame([{"job_id": "a", "remedy": "incident", "status": "ok", "extra": 1}])
    (row,) = jobrows.rows_of(old)
    assert row == JobRow(job_id="a", remedy="incident", status="ok")
