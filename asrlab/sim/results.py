"""Where a simulated job's row goes once it is final: kept (`Collector`), or streamed into a
running tally (`Tally`) and, if asked, a parquet file in chunks (`RowsWriter`). The kept and the
written rows are `asrlab.service.rows.JobRow`s, made into a table by that module.

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
from typing import Any, Protocol

import numpy as np
import pandas as pd

from asrlab.service import rows as jobrows
from asrlab.service.arbiter import Event
from asrlab.service.rows import Column, JobRow
from asrlab.workload.attribution import ATTRIBUTIONS, summarize


class Tallied(Protocol):
    """What `Tally` reads of a job: `JobRow`'s fields of those names (or a draft's)."""

    @property
    def status(self) -> str: ...
    @property
    def client_error(self) -> str | None: ...
    @property
    def latency_s(self) -> float | None: ...
    @property
    def lease_wait_s(self) -> float | None: ...
    @property
    def worker_work_after_deadline_s(self) -> float | None: ...
    @property
    def worker_late_result(self) -> bool | None: ...


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
        # token -> (holder, due_ms), as `attribute`; the grants and releases read here carry one
        self._live: dict[int | None, tuple[str, float]] = {}
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
    """Keeps every row: the records a kept run returns (`SimResult` makes its frame of them)."""

    def __init__(self, n: int, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)
        self._rows: list[JobRow | None] = [None] * n

    def add(self, index: int, row: JobRow) -> None:
        self._rows[index] = row

    def rows(self) -> tuple[JobRow, ...]:
        """The rows in job order (every job's, once the run has ended)."""
        return tuple(r for r in self._rows if r is not None)


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

    def add(self, index: int, row: Tallied, job_id: str, attribution: str | None) -> None:
        if row.latency_s is not None:
            self.latency_s[index] = row.latency_s
        wait = row.lease_wait_s
        if wait is not None:
            self.lease_wait_s[index] = wait
        after = row.worker_work_after_deadline_s
        if after is not None:
            self.after_s[index] = after
        self.late[index] = row.worker_late_result is True
        if row.status == "ok":
            self.ok[index] = 1
        else:
            text = row.client_error or ""
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
                Column.remedy: pd.Categorical.from_codes(
                    np.zeros(self.n, np.int8), pd.Index([self.remedy])
                ),
                Column.status: pd.Categorical.from_codes(self.ok, pd.Index(["failed", "ok"])),
                Column.latency_s: self.latency_s,
                Column.lease_wait_s: self.lease_wait_s,
                Column.worker_late_result: self.late,
                Column.worker_work_after_deadline_s: self.after_s,
                Column.attribution: pd.Categorical.from_codes(
                    self.attribution, pd.Index(ATTRIBUTIONS)
                ),
                Column.client_error: pd.Series(texts, dtype=object),
                Column.job_id: pd.Series(ids, dtype=object),
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

    def __init__(self, path: Path | str, settings: Mapping[str, Any], chunk: int = 50_000) -> None:
        import pyarrow.parquet as pq  # only a run that writes its rows needs it

        self.path, self.settings, self.chunk = Path(path), dict(settings), chunk
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = jobrows.arrow_schema(self.settings)
        self._writer = pq.ParquetWriter(self.path, self.schema)
        self._waiting: dict[int, JobRow] = {}
        self._next = 0
        self._ready: list[JobRow] = []
        self.written = 0

    def add(self, index: int, row: JobRow) -> None:
        self._waiting[index] = row
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
        self._writer.write_table(jobrows.arrow_table(self._ready, self.settings, self.schema))
        self.written += len(self._ready)
        self._ready = []
