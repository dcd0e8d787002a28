"""A workload run for real: every planned job sent at its arrival through one service.

``clients`` threads send the jobs to one node (one `WorkerManager`, one `RealtimeArbiter`, built
by `asrlab.service.build.service` exactly as the replay builds it). Latency is what the user
waits: from the job's arrival to the client's answer, including the time the job waited for a
free client (``client_wait_s``) when all ``clients`` were busy.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from tqdm import tqdm

from asrlab.decoding.trace import DecodeTrace
from asrlab.service import build
from asrlab.service import rows as jobrows
from asrlab.service.node import JobRecord, Node
from asrlab.service.rows import Column, JobRow
from asrlab.service.settings import remedy_columns
from asrlab.workload.attribution import attribute
from asrlab.workload.sources import JobAudio, load_item, with_plan
from asrlab.workload.traffic import PlannedJob, WorkloadConfig, plan


@dataclass(frozen=True)
class WorkloadResult:
    """A workload's outcome: one row per job (arrival order) and the arbiter's event trace.

    ``rows`` are `JobRecord.row()` with the job's plan (``job_index``, ``arrival_s``,
    ``source``, ``audio_class``, ...), its client (``started_s``, ``client_wait_s``,
    ``latency_s``), its decode's costs (``decode_*``) and its ``attribution`` and ``blamed``
    (see `attribute`); ``settings`` the ``workload_*`` and ``remedy_*`` columns every row of
    `frame` has. ``events`` are the arbiter's, as `asrlab.service.build.arbiter_events` gives them.
    """

    config: WorkloadConfig
    rows: tuple[JobRow, ...]
    events: tuple[dict[str, Any], ...]
    records: tuple[JobRecord, ...]
    settings: Mapping[str, Any]

    def frame(self) -> pd.DataFrame:
        """The results table: the rows and the settings (`asrlab.service.rows.frame`)."""
        return jobrows.frame(self.rows, self.settings)


@dataclass(frozen=True)
class _Served:
    record: JobRecord
    started_s: float  # when a client took the job, seconds after the workload's start


def run_workload(config: WorkloadConfig, *, progress: bool = True) -> WorkloadResult:
    """Run every job for real, at its arrival instant, through one service; settle late results.

    The audio is made before the clock starts. Once every client is done, each given-up job's
    late result is awaited (`Node.settle`), so the rows hold all the work it cost.
    """
    jobs = plan(config)
    audios = [load_item(job.item, job.job_seed) for job in jobs]
    with build.service(config) as node:
        served = _serve(node, jobs, audios, config.clients, progress)
        for run in served:
            node.settle(run.record)
        events = build.arbiter_events(node.arbiter)
    settings = config.row() | remedy_columns(node.remedy)
    rows = [_row(job, audio, run) for job, audio, run in zip(jobs, audios, served, strict=True)]
    blame = attribute(jobrows.frame(rows), events)
    rows = [
        replace(row, attribution=attribution, blamed=blamed)
        for row, attribution, blamed in zip(
            rows, blame[Column.attribution], blame[Column.blamed], strict=True
        )
    ]
    records = tuple(run.record for run in served)
    return WorkloadResult(config, tuple(rows), tuple(events), records, settings)


def _serve(
    node: Node, jobs: Sequence[PlannedJob], audios: Sequence[JobAudio], clients: int, progress: bool
) -> list[_Served]:
    """``clients`` threads take the jobs in arrival order, each at its arrival or when free."""
    served: list[_Served | None] = [None] * len(jobs)
    pending = iter(range(len(jobs)))
    lock = threading.Lock()
    failures: list[BaseException] = []
    bar = tqdm(total=len(jobs), unit="job", desc=node.remedy.name, disable=not progress)
    start = time.monotonic()

    def client() -> None:
        while not failures:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            time.sleep(max(0.0, start + jobs[i].arrival_s - time.monotonic()))
            taken = time.monotonic() - start
            try:
                record = node.run(jobs[i].job_id, audios[i].samples)
            except BaseException as e:  # not an AsrlabError (the node answers those): a bug
                failures.append(e)
                return
            served[i] = _Served(record, taken)
            bar.update()

    threads = [threading.Thread(target=client) for _ in range(min(clients, len(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bar.close()
    if failures:
        raise failures[0]
    return [run for run in served if run is not None]


def _row(job: PlannedJob, audio: JobAudio, run: _Served) -> JobRow:
    """The node's row of the job, with its plan, its audio, its client and its decode's costs."""
    record = run.record
    wait_s = max(0.0, run.started_s - job.arrival_s)
    row = replace(
        with_plan(record.row(), job, audio),
        started_s=run.started_s,
        client_wait_s=wait_s,
        latency_s=wait_s + record.total_s,
    )
    return with_decode(row, record.trace)


def with_decode(row: JobRow, trace: DecodeTrace | None) -> JobRow:
    """``row`` with what the simulator's service-time table needs from the job's decode trace.

    ``decode_wall_s`` is the worker's whole decode (also of a late result); ``decode_stops_s``
    (JSON) are the offsets from the decode's start at which a cooperative stop can take effect:
    where the decoder checks its deadline (before each window's encoder pass and before each
    attempt; `asrlab.decoding`); ``decode_sampled`` whether an attempt sampled, so that the
    worker rebuilds its model before its next decode, and ``decode_rebuild_s`` the seconds this
    decode waited for such a rebuild. None without a trace
    (no decode, or a decode killed before it reported).
    """
    if trace is None:
        return row
    t = float(trace.transcribe_s)
    stops = [round(t, 4)]  # before the first window's encoder pass
    for window in trace.windows:
        t += window.encode_s + window.detect_s
        for attempt in window.attempts:
            t += attempt.seconds
            stops.append(round(t, 4))
    return replace(
        row,
        decode_wall_s=float(trace.wall_s),
        decode_stops_s=json.dumps(stops),
        decode_sampled=trace.sampled,
        decode_rebuild_s=trace.rebuild_s,
    )
