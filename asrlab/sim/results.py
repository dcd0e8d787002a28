"""Where a simulated job's row goes once it is final: kept (`Collector`), or streamed into a
running tally (`Tally`) and, if asked, a parquet file in chunks (`RowsWriter`).

A day of traffic (864,000 jobs) kept as rows, dicts and then a DataFrame of 47 columns, and with
the arbiter's whole trace, took 3.6 GB; a tally keeps the few numbers per job that the summary
needs (about 30 bytes), so memory no longer grows with the rows. `Attributor` attributes each
failure as the run goes, reading the arbiter's events once and dropping them.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asrlab.service.arbiter import Event
from asrlab.workload.attribution import ATTRIBUTIONS, summarize

# A job's own columns, in a fixed order (a kept run's frame orders them as they first appear).
SIM_COLUMNS = (
    "status", "client_error", "error_type", "lease_token", "lease_wait_s", "lease_hold_max_s",
    "worker_late_result", "worker_work_after_deadline_s", "worker_killed", "worker_respawn_s",
    "decode_rebuild_s", "worker_status", "lease_held_s", "total_s", "client_wait_s", "latency_s",
)  # fmt: skip
JOB_COLUMNS = (
    "job_id", "job_index", "arrival_s", "started_s", "mix_source", "mix_length_s", "vad_s",
    "service_s", "device",
)  # fmt: skip
_TEXT = ("status", "client_error", "error_type", "worker_status", "job_id", "mix_source")
_FLAGS = ("worker_late_result", "worker_killed")
_WHOLE = ("job_index", "device")


class Attributor:
    """`workload.attribution.attribute`'s rule over one device's arbiter events, read as the run
    makes them and then dropped from the arbiter (``keep`` collects them as dicts, for a kept
    run's `SimResult.events`).

    A job's verdict is asked for once it is final, after its own give-up event (a ``cancel`` or
    ``refuse``: at most one per job) is in the trace: what was live and overdue then is known.
    """

    def __init__(self, device: int, events: list[Event], keep: list[dict[str, Any]] | None):
        self.device = device
        self._events = events  # the arbiter's own list: read, then cleared
        self._keep = keep
        self._hold_s: dict[str, float] = {}  # holder -> hold_max_s, until its grant is read
        self._live: dict[int, tuple[str, float]] = {}  # token -> (holder, due_ms), as attribute
        self._blamed: dict[str, list[str]] = {}  # holder -> overdue holders at its give-up

    def granted(self, holder: str, hold_max_s: float) -> None:
        """The job ``holder`` got a lease of ``hold_max_s`` (its row's ``lease_hold_max_s``)."""
        self._hold_s[holder] = hold_max_s

    def verdict(self, job_id: str, status: str, error_type: str | None) -> tuple[Any, Any]:
        """(attribution, blamed) of a final job, as `attribute` gives them."""
        self._read()
        blamed = self._blamed.pop(job_id, [])
        if status == "ok":
            return None, None
        if error_type == "AudioError":
            return "bad_input", None
        if error_type != "LeaseRejected":
            return "own_timeout", None
        return ("cascade", ",".join(blamed)) if blamed else ("refused_other", None)

    def _read(self) -> None:
        # The loop of `attribute`, on Event objects.
        live, hold_s = self._live, self._hold_s
        for e in self._events:
            kind = e.kind
            if kind == "grant":
                live[e.token] = (e.holder, e.t_ms + 1000.0 * hold_s.pop(e.holder, math.inf))
            elif kind in ("release", "revoke"):
                live.pop(e.token, None)
            elif kind in ("cancel", "refuse"):
                me, t_ms = e.holder, e.t_ms
                self._blamed[me] = [h for h, due in live.values() if h != me and due < t_ms]
        if self._keep is not None:
            self._keep.extend(vars(e) | {"device": self.device} for e in self._events)
        self._events.clear()


class Collector:
    """Keeps every row: the frame a kept run returns (`SimResult`), built as it always was."""

    def __init__(self, n: int, common: Mapping[str, Any]) -> None:
        self.common = dict(common)
        self._rows: list[Any] = [None] * n

    def add(self, index: int, row: dict[str, Any], job: tuple, verdict: tuple[Any, Any]) -> None:
        self._rows[index] = (row, job, verdict)

    def frame(self) -> pd.DataFrame:
        """Rows like a real workload's; built column by column (100,000 dicts cost seconds)."""
        kept = self._rows
        frame = pd.DataFrame.from_records([row for row, _, _ in kept])
        columns = list(zip(*(job for _, job, _ in kept), strict=True)) or [()] * len(JOB_COLUMNS)
        per_job = dict(zip(JOB_COLUMNS, map(list, columns), strict=True))
        rows = frame.assign(**per_job, **self.common)
        # Object columns, as a real workload's attribution gives them (None where ok).
        rows["attribution"] = pd.Series([v[0] for _, _, v in kept], index=rows.index, dtype=object)
        rows["blamed"] = pd.Series([v[1] for _, _, v in kept], index=rows.index, dtype=object)
        return rows


class Tally:
    """What `summarize` reads of a run's rows, a few numbers per job (about 30 bytes) plus the
    failed jobs' texts, so that the summary of 864,000 jobs is that of their rows without the
    rows. `summary` hands `summarize` itself a frame of those columns: the same line by
    construction, and the same again should `summarize` change what it reads of them.

    A failure costs 16 bytes when its text is one that other failures share (a lease refusal),
    and its text and job id when the text names the job (a timeout): the summary counts each
    text, so those are what it holds in any case.
    """

    def __init__(self, n: int, remedy: str) -> None:
        self.n, self.remedy = n, remedy
        self.latency_s = np.full(n, math.nan)
        self.lease_wait_s = np.full(n, math.nan)
        self.after_s = np.full(n, math.nan)  # worker_work_after_deadline_s (NaN: not set)
        self.ok = np.zeros(n, dtype=np.int8)
        self.late = np.zeros(n, dtype=bool)
        self.attribution = np.full(n, -1, dtype=np.int8)  # index into ATTRIBUTIONS, -1: None
        self._failed_at = array("q")  # the failed jobs' indices, in the order they ended
        self._failed_text: list[str] = []  # and their client errors
        self._shared: dict[str, str] = {}  # one copy of each text that names no job
        self._ids: dict[int, str] = {}  # index -> job id, where the text names it

    def add(self, index: int, row: Mapping[str, Any], job_id: str, attribution: str | None) -> None:
        self.latency_s[index] = row["latency_s"]
        wait = row["lease_wait_s"]
        if wait is not None:
            self.lease_wait_s[index] = wait
        after = row.get("worker_work_after_deadline_s")
        if after is not None:
            self.after_s[index] = after
        self.late[index] = row.get("worker_late_result") is True
        if row["status"] == "ok":
            self.ok[index] = 1
        else:
            text = row["client_error"]
            if job_id in text:  # `summarize` masks the job's id in its text: it needs the id
                self._ids[index] = job_id
            else:
                text = self._shared.setdefault(text, text)
            self._failed_at.append(index)
            self._failed_text.append(text)
        if attribution is not None:
            self.attribution[index] = ATTRIBUTIONS.index(attribution)

    def frame(self) -> pd.DataFrame:
        """The columns `summarize` reads, one row per job in job order (as a kept run's rows).

        ``client_error`` is filled for failed jobs only, and ``job_id`` where a failure's text
        names the job: `summarize` reads an id only to mask it in that job's text, and a day's
        ids would be 50 MB of strings.
        """
        texts = np.full(self.n, None, dtype=object)
        ids = np.full(self.n, None, dtype=object)
        if self._failed_text:
            at = np.frombuffer(self._failed_at, dtype=np.int64)
            texts[at] = np.array(self._failed_text, dtype=object)  # the strings themselves
        for index, job_id in self._ids.items():
            ids[index] = job_id
        return pd.DataFrame(
            {
                "remedy": pd.Categorical.from_codes(np.zeros(self.n, np.int8), [self.remedy]),
                "status": pd.Categorical.from_codes(self.ok, ["failed", "ok"]),
                "latency_s": self.latency_s,
                "lease_wait_s": self.lease_wait_s,
                "worker_late_result": self.late,
                "worker_work_after_deadline_s": self.after_s,
                "attribution": pd.Categorical.from_codes(self.attribution, list(ATTRIBUTIONS)),
                "client_error": pd.Series(texts, dtype=object),
                "job_id": pd.Series(ids, dtype=object),
            }
        )

    def summary(self) -> dict[str, Any]:
        """`workload.attribution.summarize` of the run: the line a kept run's rows give."""
        return summarize(self.frame())


class RowsWriter:
    """Every job's row, written to a parquet file in job order, ``chunk`` rows at a time.

    Rows are final out of order (a job finishes after later ones); each waits until those before
    it are final, so what is held is about the jobs in flight plus one chunk.
    """

    def __init__(self, path: Path | str, common: Mapping[str, Any], chunk: int = 50_000) -> None:
        import pyarrow as pa  # only a run that writes its rows needs it
        import pyarrow.parquet as pq

        self.path, self.common, self.chunk = Path(path), dict(common), chunk
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fields = [(c, _arrow_type(c, pa)) for c in SIM_COLUMNS + JOB_COLUMNS]
        constants = pa.Table.from_pylist([self.common]).schema  # None: a column of nulls
        fields += list(zip(constants.names, constants.types, strict=True))
        fields += [("attribution", pa.string()), ("blamed", pa.string())]
        self.schema = pa.schema(fields)
        self._pa = pa
        self._writer = pq.ParquetWriter(self.path, self.schema)
        self._waiting: dict[int, dict[str, Any]] = {}
        self._next = 0
        self._ready: list[dict[str, Any]] = []
        self.written = 0

    def add(self, index: int, row: dict[str, Any], job: tuple, verdict: tuple[Any, Any]) -> None:
        whole = row | dict(zip(JOB_COLUMNS, job, strict=True))
        whole["attribution"], whole["blamed"] = verdict
        self._waiting[index] = whole
        while self._next in self._waiting:
            self._ready.append(self._waiting.pop(self._next))
            self._next += 1
        if len(self._ready) >= self.chunk:
            self._flush()

    def close(self) -> Path:
        self._flush()
        self._writer.close()
        return self.path

    def _flush(self) -> None:
        if not self._ready:
            return
        names = SIM_COLUMNS + JOB_COLUMNS + ("attribution", "blamed")
        frame = pd.DataFrame.from_records(self._ready, columns=list(names)).assign(**self.common)
        table = self._pa.Table.from_pandas(frame[self.schema.names], schema=self.schema)
        self._writer.write_table(table.replace_schema_metadata(None))
        self.written += len(self._ready)
        self._ready = []


def _arrow_type(column: str, pa: Any) -> Any:
    if column in _TEXT:
        return pa.string()
    if column in _FLAGS:
        return pa.bool_()
    if column in _WHOLE:
        return pa.int64()
    return pa.float64()  # seconds, and the lease token (NaN where none: float, as in a frame)
