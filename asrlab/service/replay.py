"""The incident replayed: job A holds the lease past ``hold_max_ms``, job B arrives while it is
overdue. One function builds the service from real parts for a given remedy and runs both jobs.

Defaults are the incident's absolute values (ASR timeout 30 s, guard 20 s, hold_max 20 s); job A
is 11.2 s of pink noise (seed 3), which at the incident preset climbs the whole fallback ladder
(six attempts, five of them repetition loops to the 224-token limit): 38 s in float32 on this
2-core CPU, as docs/incident.md measured 32 s for an 11.2 s pink-noise clip.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

from asrlab.audio import corpus
from asrlab.audio.corpus import INCIDENT_CLIP_S
from asrlab.errors import ConfigError
from asrlab.service import rows as jobrows
from asrlab.service import scaling
from asrlab.service.build import arbiter_events, service
from asrlab.service.node import JobRecord
from asrlab.service.remedies import Remedy
from asrlab.service.rows import Column, JobRow
from asrlab.service.scaling import Thresholds
from asrlab.service.settings import ServiceSettings, remedy_columns

TRANSCRIPT_CHARS = 40  # what the summary line shows of A's transcript
TRANSPORTS = ("inproc", "http")  # the node called in this process, or `asrlab serve` over HTTP
RETRY_AFTER_COLUMN = "http_retry_after_s"  # results.parquet, over HTTP: the answer's Retry-After


@dataclass(frozen=True)
class ReplayConfig(ServiceSettings):
    """One replay: the service (`ServiceSettings`: remedy, thresholds, model) and the two jobs.

    ``b_delay_s`` None: B arrives 1 s after A's lease would become overdue. ``threshold_scale``
    multiplies every threshold (the remedy's timeouts, ``hold_max_ms``, ``acquire_timeout_ms``
    and B's arrival: `asrlab.service.scaling`); 1.0 replays the incident's absolute values.
    ``transport``: ``inproc`` calls the node in this process (`replay`); ``http`` posts both
    jobs to `asrlab serve` on loopback (`asrlab.endpoint.replay`, a layer above this one), as
    the incident's web clients did.
    """

    a_source: str = "pink_noise"
    a_length_s: float = INCIDENT_CLIP_S
    a_noise_seed: int = 3
    b_source: str = "zh_aishell_BAC009S0724W0121"
    b_delay_s: float | None = None
    threshold_scale: float = 1.0
    transport: str = "inproc"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.transport not in TRANSPORTS:
            raise ConfigError("transport", self.transport, f"must be one of {TRANSPORTS}")

    def thresholds(self) -> Thresholds:
        """The values this replay runs with, the scale applied."""
        return scaling.thresholds(self, self.threshold_scale, self.b_delay_s)


@dataclass(frozen=True)
class HttpAnswer:
    """What one job's HTTP client got (transport ``http``): the status, the seconds from its
    request to the answer, the error body's message (None on 200) and ``Retry-After``."""

    http_status: int
    latency_s: float
    client_error: str | None = None
    retry_after_s: int | None = None

    def on(self, row: JobRow) -> JobRow:
        """The node's row of the job with what its client saw laid over it."""
        return replace(
            row, http_status=self.http_status, latency_s=self.latency_s,
            client_error=self.client_error,
        )  # fmt: skip


@dataclass
class ReplayResult:
    config: ReplayConfig
    remedy: Remedy
    a: JobRecord
    b: JobRecord
    a_label: str
    b_label: str
    arbiter_events: list[dict[str, Any]]
    thresholds: Thresholds
    answers: tuple[HttpAnswer, HttpAnswer] | None = None  # A's and B's, over HTTP

    def rows(self) -> tuple[JobRow, JobRow]:
        """A's and B's rows: each record's, with its role and its audio's label (over HTTP,
        with the status, latency and error text its client got)."""
        a = replace(self.a.row(), role="A", source=self.a_label)
        b = replace(self.b.row(), role="B", source=self.b_label)
        if self.answers is None:
            return a, b
        return self.answers[0].on(a), self.answers[1].on(b)

    def settings(self) -> dict[str, Any]:
        """What both rows ran with: the replay's settings, the thresholds (``threshold_*``)
        and the remedy."""
        base = {f"replay_{k}": v for k, v in asdict(self.config).items()}
        return base | scaling.as_row(self.thresholds) | remedy_columns(self.remedy)

    def frame(self) -> pd.DataFrame:
        """One row per job for results.parquet (`asrlab.service.rows.frame`)."""
        table = jobrows.frame(self.rows(), self.settings())
        if self.answers is not None:
            table[RETRY_AFTER_COLUMN] = [answer.retry_after_s for answer in self.answers]
        return table


def replay(config: ReplayConfig) -> ReplayResult:
    """Run jobs A and B through one node setup; return both records once A's fate is settled.

    In this process whatever ``config.transport`` says: `asrlab.endpoint.replay.run` is the one
    that dispatches on it."""
    a_samples, a_label = corpus.load_source(
        config.a_source, length_s=config.a_length_s, noise_seed=config.a_noise_seed
    )
    b_samples, b_label = corpus.load_source(config.b_source)
    values = config.thresholds()
    with service(replace(config, **values.overrides())) as node:
        records: dict[str, JobRecord] = {}
        job_a = threading.Thread(target=lambda: records.update(A=node.run("A", a_samples)))
        started = time.monotonic()
        job_a.start()
        time.sleep(max(0.0, started + values.b_delay_s - time.monotonic()))
        records["B"] = node.run("B", b_samples)
        job_a.join()
        for record in records.values():
            node.settle(record)
        events = arbiter_events(node.arbiter)
    return ReplayResult(
        config, node.remedy, records["A"], records["B"], a_label, b_label, events, values
    )


def summary(rows: Any) -> dict[str, Any]:
    """The line `asrlab reproduce` prints per remedy, from one replay's results rows.

    ``rows`` is the DataFrame the notebook writes (one row per job, ``role`` "A" or "B").
    """
    flat_a = rows[rows[Column.role] == "A"].iloc[0]
    a = JobRow.from_flat(flat_a)
    b = JobRow.from_flat(rows[rows[Column.role] == "B"].iloc[0])

    def status(job: JobRow) -> str:
        return "ok" if job.status == "ok" else f"failed: {job.client_error}"

    def num(value: float | None) -> float | None:
        return None if value is None else round(float(value), 2)

    transport = flat_a.get("replay_transport")
    transport = transport if isinstance(transport, str) else "inproc"  # rows before the field
    http = {} if transport != "http" else {
        "A HTTP": a.http_status,
        "B HTTP": b.http_status,
        "B Retry-After s": _retry_after(rows[rows[Column.role] == "B"].iloc[0]),
    }  # fmt: skip
    return {
        "remedy": a.remedy,
        "transport": transport,
        "A": status(a) if a.status == "ok" else "failed: " + _short(a.client_error),
        "A s": num(a.total_s),
        "B": status(b),
        "B s": num(b.total_s),
        "A lease held s": num(a.lease_held_s),
        "overdue": bool(a.lease_overdue or b.lease_overdue),
        "A work after deadline s": num(a.worker_work_after_deadline_s),
        "A late result": a.worker_late_result is True,
        "A transcript": _cut(a.text),
    } | http | {str(k): float(v) for k, v in flat_a.items() if str(k).startswith("threshold_")}


def _retry_after(flat: Any) -> int | None:
    value = flat.get(RETRY_AFTER_COLUMN)
    return None if value is None or value != value else int(value)  # NaN: none was sent


def _cut(text: Any, most: int = TRANSCRIPT_CHARS) -> str:
    """A transcript for one table cell: a 400-character loop would make the table unreadable."""
    text = "" if text is None else str(text)
    return text if len(text) <= most else text[: most - 1] + "…"


def _short(error: str | None) -> str:
    """'ASR task timeout: job A passed ...' -> 'ASR task timeout'."""
    return "" if not error else error.split(":")[0]
