"""`asrlab drive URL`: the lab's seeded workload sent over HTTP to any OpenAI-compatible endpoint.

The jobs are `asrlab.workload.traffic`'s plan (Poisson arrivals of a weighted mix), their audio
made and WAV-encoded before the clock starts. Each job is posted once, at its arrival, to
``URL/v1/audio/transcriptions`` (verbose_json) with its id in ``X-Asrlab-Job-Id``, by one
`httpx.AsyncClient` that keeps at most ``concurrency`` requests in flight: a job arriving while
all are busy waits for one, and that wait counts in the latency its client observes, as in
`asrlab.workload.real`. Nothing is retried: a refusal is what the client got.

Every answer is matched to its job: an echoed id (header or the server's row) that is not the
one sent raises, and a drive ends with exactly one row per planned job (0 lost, 0 duplicated)
or raises. The rows (`asrlab.endpoint.drive_rows`) are attributed with the server's arbiter
events where it publishes them (``GET /v1/lab/events``, `asrlab serve`; none from a peer).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import httpx
import pandas as pd
from tqdm import tqdm

from asrlab.checks import Check, check_fields, none_or_positive, positive, whole
from asrlab.endpoint.app import JOB_ID_HEADER
from asrlab.endpoint.drive_rows import (
    CLIENT_TIMEOUT,
    CONNECTION_ERROR,
    NOT_SENT,
    Answer,
    row_of,
    server_row,
    wav_bytes,
)
from asrlab.endpoint.drive_summary import DriveSummary, summarize_drive, summary_blob
from asrlab.errors import AsrlabError
from asrlab.service import rows as jobrows
from asrlab.service.rows import Column, JobRow
from asrlab.workload.attribution import attribute
from asrlab.workload.sources import load_item
from asrlab.workload.traffic import PlannedJob, WorkloadConfig, plan

TRANSCRIPTIONS: Final = "/v1/audio/transcriptions"
EVENTS: Final = "/v1/lab/events"  # `asrlab serve`'s arbiter events; a peer answers 404
DRIVE_PREFIX: Final = "drive_"  # the drive's own columns in every row of `DriveResult.frame`


@dataclass(frozen=True)
class DriveConfig:
    """One drive.

    Attributes:
        url: the endpoint's base URL (``http://127.0.0.1:8000``).
        workload: the jobs (`WorkloadConfig`'s ``n_jobs``, ``rate_per_min``, ``seed``, ``mix``;
            its service fields and ``clients`` are the server's business and are ignored).
        concurrency: requests in flight at most (the client's connections).
        timeout_s: each request's own timeout; past it the job is a ``ClientTimeout``.
        max_wall_s: the whole drive's bound: a job not sent by then is recorded as not sent, and
            a request in flight then is given up (``ClientTimeout``). None: unbounded.
        model: the model name sent in the form (as ``model`` and as ``model_name``: the peer
            faster-whisper-server reads the latter only).
        label: the rows' ``remedy`` where the server does not say its own (a peer).
    """

    url: str
    workload: WorkloadConfig
    concurrency: int = 8
    timeout_s: float = 120.0
    max_wall_s: float | None = None
    model: str = "whisper-1"
    label: str | None = None

    def __post_init__(self) -> None:
        checks: list[Check] = [
            ("url", self.url.startswith(("http://", "https://")), "must be an http(s) URL"),
            ("concurrency", whole(self.concurrency, 1), "must be a whole number >= 1"),
            ("timeout_s", positive(self.timeout_s), "must be > 0 s"),
            ("max_wall_s", none_or_positive(self.max_wall_s), "must be None or > 0 s"),
            ("model", bool(self.model), "must name a model"),
        ]
        check_fields(self, checks)

    @property
    def target(self) -> str:
        """What the rows call the endpoint where its server does not name its remedy."""
        return self.label or self.url

    def row(self) -> dict[str, Any]:
        """The ``workload_*`` columns a real workload's rows carry, and the drive's own."""
        fields = asdict(self)
        del fields["workload"]
        return self.workload.row() | {f"{DRIVE_PREFIX}{k}": v for k, v in fields.items()}


@dataclass(frozen=True)
class DriveResult:
    """A drive's outcome: one row per planned job (plan order), the server's arbiter events
    (empty from a peer), the wall time (first arrival -> last answer), and its summary."""

    config: DriveConfig
    rows: tuple[JobRow, ...]
    events: tuple[dict[str, Any], ...]
    wall_s: float
    summary: DriveSummary

    def frame(self) -> pd.DataFrame:
        """The results table: the rows and the drive's settings (`asrlab.service.rows.frame`)."""
        return jobrows.frame(self.rows, self.config.row())


def drive(
    config: DriveConfig,
    *,
    progress: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DriveResult:
    """Send the workload to ``config.url`` and return every job's row, attributed.

    Runs its own asyncio loop (in a thread of its own when the caller's thread already runs one,
    as a notebook's does). ``transport``: httpx's (tests pass a mock or an in-process app).

    Raises:
        AsrlabError: an answer carried another job's id, or a job ended with no row or two.
    """
    jobs = plan(config.workload)
    audios = [load_item(job.item, job.job_seed) for job in jobs]
    wavs = [wav_bytes(audio.samples) for audio in audios]  # before the clock starts

    def run() -> tuple[list[Answer], list[dict[str, Any]], float]:
        return asyncio.run(_send_all(config, jobs, wavs, progress, transport))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        answers, events, wall_s = run()
    else:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answers, events, wall_s = pool.submit(run).result()
    counts = Counter(answer.job_id for answer in answers)
    lost = sum(1 for job in jobs if job.job_id not in counts)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    if lost or duplicated:
        raise AsrlabError(f"drive: {lost} job(s) lost, {duplicated} answer(s) duplicated")
    by_id = {answer.job_id: answer for answer in answers}
    rows = [
        row_of(job, audio, by_id[job.job_id], config.target)
        for job, audio in zip(jobs, audios, strict=True)
    ]
    rows = _attributed(rows, events)
    summary = summarize_drive(jobrows.frame(rows), wall_s, lost=lost, duplicated=duplicated)
    return DriveResult(config, tuple(rows), tuple(events), wall_s, summary)


def _attributed(rows: Sequence[JobRow], events: Sequence[Mapping[str, Any]]) -> list[JobRow]:
    """``rows`` with their ``attribution`` and ``blamed``; a job never sent has no cause."""
    blame = attribute(jobrows.frame(rows), events)
    return [
        replace(row, attribution=None, blamed=None)
        if row.status == NOT_SENT
        else replace(row, attribution=attribution, blamed=blamed)
        for row, attribution, blamed in zip(
            rows, blame[Column.attribution], blame[Column.blamed], strict=True
        )
    ]


async def _send_all(
    config: DriveConfig,
    jobs: Sequence[PlannedJob],
    wavs: Sequence[bytes],
    progress: bool,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[list[Answer], list[dict[str, Any]], float]:
    """Every job sent at its arrival; (answers in plan order, the server's events, wall s)."""
    base = config.url.rstrip("/")
    limits = httpx.Limits(
        max_connections=config.concurrency, max_keepalive_connections=config.concurrency
    )
    gate = asyncio.Semaphore(config.concurrency)
    form = {"model": config.model, "model_name": config.model, "response_format": "verbose_json"}
    bar = tqdm(total=len(jobs), unit="job", desc=config.target, disable=not progress)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(
        limits=limits, timeout=config.timeout_s, transport=transport
    ) as client:
        start = loop.time()
        end = config.max_wall_s

        def now() -> float:
            return loop.time() - start

        async def one(job: PlannedJob, wav: bytes) -> Answer:
            wake = job.arrival_s if end is None else min(job.arrival_s, end)
            await asyncio.sleep(max(0.0, wake - now()))
            async with gate:
                sent = now()
                left = None if end is None else end - sent
                if left is not None and left <= 0:
                    bar.update()
                    why = f"not sent: the drive's max_wall_s ({config.max_wall_s:g} s) had passed"
                    return Answer(job.job_id, None, None, detail=why)
                try:
                    response = await client.post(
                        base + TRANSCRIPTIONS,
                        data=form,
                        files={"file": (f"{job.job_id}.wav", wav, "audio/wav")},
                        headers={JOB_ID_HEADER: job.job_id},
                        timeout=config.timeout_s if left is None else min(config.timeout_s, left),
                    )
                except httpx.TimeoutException as e:
                    failure, detail = CLIENT_TIMEOUT, f"{type(e).__name__}: {e}"
                except httpx.TransportError as e:
                    failure, detail = CONNECTION_ERROR, f"{type(e).__name__}: {e}"
                else:
                    bar.update()
                    return _answer(job.job_id, sent, now(), response)
                bar.update()
                return Answer(job.job_id, sent, now(), failure=failure, detail=detail)

        tasks = [asyncio.ensure_future(one(job, wav)) for job, wav in zip(jobs, wavs, strict=True)]
        try:
            answers = list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            bar.close()
        wall_s = now()  # the last answer has come
        events = await _events(client, base)
    return answers, events, wall_s


def _answer(job_id: str, sent: float, done: float, response: httpx.Response) -> Answer:
    """The answer to ``job_id``'s request; raises where it names another job."""
    try:
        body: Any = response.json()
        text = ""
    except ValueError:  # not JSON: an error page, a proxy's answer
        body, text = None, response.text
    echoed = {response.headers.get(JOB_ID_HEADER)}
    row = server_row(body)
    if row is not None:
        echoed.add(row.job_id)
    wrong = echoed - {None, job_id}
    if wrong:
        raise AsrlabError(f"drive: the answer to {job_id} names {sorted(map(str, wrong))}")
    return Answer(job_id, sent, done, response.status_code, body, text)


async def _events(client: httpx.AsyncClient, base: str) -> list[dict[str, Any]]:
    """The server's arbiter events (`asrlab serve`), or none: a peer has no such endpoint (404)
    and a server killed during the drive no longer answers."""
    try:
        response = await client.get(base + EVENTS)
        found = response.json() if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        return []
    if isinstance(found, Mapping):
        found = found.get("events", [])
    return [dict(e) for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def write(result: DriveResult, out: Path) -> None:
    """``rows.parquet`` (`DriveResult.frame`), ``summary.json`` (the summary and the config) and
    ``events.json`` (the server's arbiter events) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    result.frame().to_parquet(out / "rows.parquet")
    blob = summary_blob(result.summary) | {"config": result.config.row()}
    (out / "summary.json").write_text(json.dumps(blob, indent=2, default=str) + "\n")
    (out / "events.json").write_text(json.dumps(list(result.events), default=str) + "\n")
