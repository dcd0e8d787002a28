"""One job's results row, `JobRow`, whoever ran the job: the real node, the SimPy twin, a replay.

Every producer fills the same frozen record (None where it does not know a value: the twin has
no transcript, the node no device index), and every table of jobs is made from those records in
one place, `frame` (`arrow_schema` and `arrow_table` for a file written in chunks), and read
back into them in one place, `JobRow.from_flat` and `rows_of`. No column name is built from
data: the node's timeline sets named fields (`Mark`), the worker's measurements are copied field
by field (`with_worker`). A reader that goes column by column over many jobs (a simulated day)
names its columns by `Column`, whose every name is a field, checked when this module loads.

The ``worker_*`` columns keep the names the worker's `JobMetrics` gave them before this record
existed (``worker_worker_start_s``), since tables of earlier runs are still read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import Enum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, get_type_hints

import numpy as np
import pandas as pd

from asrlab.decoding.trace import WindowOutcome
from asrlab.errors import ConfigError

if TYPE_CHECKING:
    from asrlab.service.jobs import JobMetrics


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job as results.parquet holds it. Seconds throughout; ``t_*_s`` are seconds since
    the node received the job (None: the job never reached that row of the timeline)."""

    job_id: str
    remedy: str
    status: str  # ok | failed
    role: str | None = None  # the job's part in a replay: "A" or "B"
    simulated: bool = False  # made by the twin (`asrlab.sim`), not by the real node
    # What the job was: its place in a workload's plan and its audio
    job_index: int | None = None
    arrival_s: float | None = None  # seconds after the workload's start
    job_seed: int | None = None
    source: str | None = None  # the audio's label: clip id, composition, noise seed
    mix_source: str | None = None
    mix_length_s: float | None = None  # None: the mix item's audio taken whole
    audio_class: str | None = None
    language: str | None = None  # the audio's own language (the corpus says), not the detected
    reference: str | None = None
    audio_s: float | None = None
    # What its client got, and when
    client_error: str | None = None  # the exact text the client was shown
    error_type: str | None = None  # the error's class (AsrTimeout, LeaseRejected, ...)
    notice: str | None = None  # what an answer left out: "no speech", windows dropped
    text: str | None = None
    received: float | None = None  # monotonic instant the node received it (real node)
    started_s: float | None = None  # a client took it, seconds after the workload's start
    client_wait_s: float | None = None  # arrival -> a client took it
    answered_s: float | None = None  # receipt -> the client's answer
    total_s: float | None = None  # the same (0.0 on the node before an answer)
    latency_s: float | None = None  # client wait + total: what the user waited
    # VAD on the node
    vad_spans: int | None = None
    vad_s: float | None = None
    # The GPU lease
    lease_token: int | None = None
    lease_wait_s: float | None = None
    lease_held_s: float | None = None
    lease_hold_max_s: float | None = None
    lease_overdue: bool | None = None
    # The incident's timeline (docs/incident.md): one field per `Mark`
    t_received_s: float | None = None
    t_decoded_s: float | None = None
    t_vad_done_s: float | None = None
    t_no_speech_s: float | None = None  # the VAD gate answered without a decode
    t_lease_granted_s: float | None = None
    t_submitted_s: float | None = None
    t_worker_started_s: float | None = None
    t_first_segment_s: float | None = None
    t_language_detected_s: float | None = None
    t_transcribe_returned_s: float | None = None
    t_segments_done_s: float | None = None
    t_timed_out_s: float | None = None
    t_worker_failed_s: float | None = None
    t_windows_dropped_s: float | None = None  # reject_loops dropped windows (``notice``)
    t_result_delivered_s: float | None = None
    t_failed_s: float | None = None  # the client was told ``client_error``
    t_lease_released_s: float | None = None
    t_late_result_s: float | None = None  # a given-up job's result arrived, and was discarded
    t_client_gone_s: float | None = None  # served: the HTTP client went away unanswered
    detected_language: str | None = None  # what the decoder detected (`t_language_detected_s`)
    # The worker's measurements (`asrlab.service.jobs.JobMetrics`); instants are monotonic
    worker_job_id: str | None = None
    worker_policy: str | None = None
    worker_mode: str | None = None
    worker_timeout_s: float | None = None
    worker_submitted: float | None = None
    worker_worker_pid: int | None = None
    worker_queue_wait_s: float | None = None
    worker_worker_start_s: float | None = None
    worker_first_segment_s: float | None = None
    worker_total_s: float | None = None
    worker_status: str | None = None  # ok | partial | timeout | crashed | failed | cancelled
    worker_timed_out: bool | None = None
    worker_killed: bool | None = None
    worker_respawn_s: float | None = None
    worker_work_after_deadline_s: float | None = None
    worker_late_result: bool | None = None
    worker_guard_entered_s: float | None = None
    worker_guard_raised_s: float | None = None
    worker_guard_left_s: float | None = None
    worker_error: str | None = None
    # What the simulator's service-time table needs of the decode (`workload.real.with_decode`)
    decode_wall_s: float | None = None
    decode_stops_s: str | None = None  # JSON list of offsets
    decode_sampled: bool | None = None
    decode_rebuild_s: float | None = None
    # The twin's own: the cost it drew, and the device it sent the job to
    service_s: float | None = None
    device: int | None = None
    # On the wire (`asrlab.endpoint`): what the HTTP client received, what a disconnect did
    http_status: int | None = None  # None: in-process, or no HTTP answer at all
    disconnect_action: str | None = None  # cancelled | ignored (the policy's rule)
    # Why it failed (`asrlab.workload.attribution.attribute`)
    attribution: str | None = None
    blamed: str | None = None  # comma-joined job ids

    @classmethod
    def from_flat(cls, flat: Mapping[Any, Any] | pd.Series) -> JobRow:
        """The row of one flat mapping (a record of `frame`'s table, a parquet row): columns
        that are no field are ignored, fields missing (a table of an earlier version) are None,
        and NaN is read back as None."""
        missing = [name for name in _REQUIRED if name not in flat]
        if missing:
            raise ConfigError("row", missing, "not a job row (asrlab.service.rows.JobRow)")
        return cls(**{name: _plain(name, flat[name]) for name in NAMES if name in flat})


NAMES: Final[tuple[str, ...]] = tuple(f.name for f in fields(JobRow))
_REQUIRED = ("job_id", "remedy", "status")
_TYPES: dict[str, type] = {  # each field's type without its None
    name: next(t for t in getattr(hint, "__args__", (hint,)) if t is not type(None))
    for name, hint in get_type_hints(JobRow).items()
}
_VALUES = attrgetter(*NAMES)


class Column:
    """Column names for readers that go column by column over many jobs (a simulated day's
    864,000), where a record per job would cost seconds; each is a `JobRow` field."""

    job_id: Final = "job_id"
    remedy: Final = "remedy"
    status: Final = "status"
    role: Final = "role"
    mix_source: Final = "mix_source"
    mix_length_s: Final = "mix_length_s"
    audio_class: Final = "audio_class"
    audio_s: Final = "audio_s"
    vad_s: Final = "vad_s"
    client_error: Final = "client_error"
    error_type: Final = "error_type"
    latency_s: Final = "latency_s"
    lease_wait_s: Final = "lease_wait_s"
    lease_hold_max_s: Final = "lease_hold_max_s"
    worker_late_result: Final = "worker_late_result"
    worker_work_after_deadline_s: Final = "worker_work_after_deadline_s"
    decode_wall_s: Final = "decode_wall_s"
    attribution: Final = "attribution"
    blamed: Final = "blamed"


class Mark(Enum):
    """A row of the node's timeline: the text it shows (``{}``: the mark's detail, e.g. the
    language detected) and the `JobRow` field that holds its instant."""

    RECEIVED = ("received", "t_received_s")
    DECODED = ("decoded", "t_decoded_s")
    VAD_DONE = ("VAD done", "t_vad_done_s")
    NO_SPEECH = ("no speech: not decoded", "t_no_speech_s")
    LEASE_GRANTED = ("lease granted", "t_lease_granted_s")
    SUBMITTED = ("submitted", "t_submitted_s")
    WORKER_STARTED = ("worker started", "t_worker_started_s")
    FIRST_SEGMENT = ("first segment", "t_first_segment_s")
    LANGUAGE_DETECTED = ("language detected: {}", "t_language_detected_s")
    TRANSCRIBE_RETURNED = ("transcribe() returned", "t_transcribe_returned_s")
    SEGMENTS_DONE = ("segments done", "t_segments_done_s")
    TIMED_OUT = ("timed out", "t_timed_out_s")
    WORKER_FAILED = ("worker failed", "t_worker_failed_s")
    WINDOWS_DROPPED = (
        f"{WindowOutcome.UNINTELLIGIBLE}: {{}} window(s) dropped",  # reject_loops's drops
        "t_windows_dropped_s",
    )
    RESULT_DELIVERED = ("result delivered", "t_result_delivered_s")
    FAILED = ("failed: {}", "t_failed_s")
    LEASE_RELEASED = ("lease released", "t_lease_released_s")
    LATE_RESULT = ("result arrived late: discarded", "t_late_result_s")
    CLIENT_GONE = ("client disconnected: {}", "t_client_gone_s")  # served: what the server did

    def __init__(self, text: str, column: str) -> None:
        self.text = text
        self.column = column

    def label(self, detail: object = None) -> str:
        """The timeline's text for this mark, with its detail."""
        return self.text.format(detail) if "{}" in self.text else self.text


def _check_names() -> None:
    """Every `Column` and `Mark` names a field: a renamed field fails here, at import."""
    names = set(NAMES)
    columns = {k: v for k, v in vars(Column).items() if not k.startswith("_")}
    wrong = [k for k, v in columns.items() if k != v or k not in names]
    wrong += [m.name for m in Mark if m.column not in names]
    if wrong:
        raise TypeError(f"not JobRow fields: {wrong}")


_check_names()


def with_worker(row: JobRow, metrics: JobMetrics) -> JobRow:
    """``row`` with the worker's measurements of its job."""
    m = metrics
    return replace(
        row,
        worker_job_id=m.job_id,
        worker_policy=str(m.policy),  # an enum of str: its text
        worker_mode=str(m.mode),
        worker_timeout_s=m.timeout_s,
        worker_submitted=m.submitted,
        worker_worker_pid=m.worker_pid,
        worker_queue_wait_s=m.queue_wait_s,
        worker_worker_start_s=m.worker_start_s,
        worker_first_segment_s=m.first_segment_s,
        worker_total_s=m.total_s,
        worker_status=str(m.status),
        worker_timed_out=m.timed_out,
        worker_killed=m.killed,
        worker_respawn_s=m.respawn_s,
        worker_work_after_deadline_s=m.work_after_deadline_s,
        worker_late_result=m.late_result,
        worker_guard_entered_s=m.guard_entered_s,
        worker_guard_raised_s=m.guard_raised_s,
        worker_guard_left_s=m.guard_left_s,
        worker_error=m.error,
    )


def frame(rows: Sequence[JobRow], settings: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The table of ``rows``: one column per `JobRow` field, in its order, then one per setting
    (``settings``: the same value on every row, e.g. ``workload_*`` and ``remedy_*``).

    A text field's column holds objects, None where a row has none (as `attribute` gives its
    columns); the others take the type pandas infers (NaN for None among numbers)."""
    values = list(zip(*map(_VALUES, rows), strict=True)) or [()] * len(NAMES)
    table = pd.DataFrame(
        {
            name: pd.Series(column, dtype=object) if _TYPES[name] is str else list(column)
            for name, column in zip(NAMES, values, strict=True)
        }
    )
    if not settings:
        return table
    clash = sorted(set(settings) & set(NAMES))
    if clash:
        raise ConfigError("settings", clash, "a setting may not take a JobRow field's name")
    n = len(table)
    constants = pd.DataFrame({k: [v] * n for k, v in settings.items()}, index=table.index)
    return pd.concat([table, constants], axis=1)


def rows_of(table: pd.DataFrame) -> list[JobRow]:
    """The rows of a table `frame` made (or a parquet file of one), as records."""
    return [JobRow.from_flat(flat) for flat in table.to_dict("records")]


def arrow_schema(settings: Mapping[str, Any] | None = None) -> Any:
    """The parquet schema of `frame`'s table: each field's type from its annotation (an
    integer column holds nulls, not NaN), each setting's from its value."""
    import pyarrow as pa  # only a table written in chunks needs it

    types = {str: pa.string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64()}
    columns = [(name, types[_TYPES[name]]) for name in NAMES]
    constants = pa.Table.from_pylist([dict(settings or {})]).schema  # None: a column of nulls
    return pa.schema(columns + list(zip(constants.names, constants.types, strict=True)))


def arrow_table(rows: Sequence[JobRow], settings: Mapping[str, Any], schema: Any) -> Any:
    """`frame`'s table as an arrow table of ``schema`` (`arrow_schema` of the same settings)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame(rows, settings), schema=schema, preserve_index=False)
    return table.replace_schema_metadata(None)


def _plain(name: str, value: Any) -> Any:
    """A table's value as the field holds it: None for NaN, Python scalars for numpy's."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if _TYPES[name] is int and isinstance(value, float) and value.is_integer():
        return int(value)  # a column of integers with NaN is float
    return value


__all__ = [
    "Column",
    "JobRow",
    "Mark",
    "NAMES",
    "arrow_schema",
    "arrow_table",
    "frame",
    "rows_of",
    "with_worker",
]
