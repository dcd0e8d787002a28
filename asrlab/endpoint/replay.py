"""The incident over the wire: the replay's jobs A and B posted by a real HTTP client to `asrlab
serve`, as the incident's web clients posted theirs.

`replay_http` starts the lab's server in this process (`serve_in_thread`, the replay's settings
and thresholds), WAV-encodes A and B and posts each from a thread of its own with httpx, B
``b_delay_s`` after A, as `asrlab.service.replay.replay` starts them; it returns the same
`ReplayResult`: the node's own records of both jobs (the timelines, A's late result), with what
each client got (status, latency, the error body's message, ``Retry-After``) laid over their
rows. `run` is the replay whichever its ``transport`` says.

What differs from the in-process replay, on purpose: the server decodes every upload to 16-bit
PCM, so job A is the int16-quantized noise, not the float array; its fallback ladder may climb
differently, and a calibrated replay measures A's decode on the quantized samples
(`quantized`; `asrlab reproduce --http`). Each job's ``received`` is the server's, after its
upload: B's arrival is still ``b_delay_s`` after A's request, give or take an upload on loopback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from asrlab.audio import corpus
from asrlab.errors import AsrlabError
from asrlab.service.replay import HttpAnswer, ReplayConfig, ReplayResult, replay
from asrlab.service.settings import ServiceSettings

if TYPE_CHECKING:
    from asrlab.service.node import JobRecord

SETTLE_CALL_S = 5.0  # the app settles a job just after its answer; past this the replay does
SETTLE_WAIT_S = 180.0  # the node's own settle waits up to 120 s for a late result


def run(config: ReplayConfig) -> ReplayResult:
    """The replay over the transport ``config.transport`` names: ``inproc`` or ``http``."""
    return replay_http(config) if config.transport == "http" else replay(config)


def quantized(samples: np.ndarray) -> np.ndarray:
    """``samples`` as the server decodes them from the replay's upload: through a 16-bit WAV
    and the lab's own decoder (`asrlab.audio.samples.decode`, in a child process)."""
    from asrlab.audio.samples import decode

    return decode(wav_bytes(samples))


def wav_bytes(samples: np.ndarray) -> bytes:
    """The upload: mono 16 kHz signed 16-bit WAV, as the driver sends its jobs."""
    from asrlab.endpoint.drive_rows import wav_bytes as encode

    return encode(samples)


def service_settings(config: ReplayConfig) -> ServiceSettings:
    """The server's settings: the replay's service fields, its thresholds (scaled) applied."""
    plain = ServiceSettings(**{f.name: getattr(config, f.name) for f in fields(ServiceSettings)})
    return replace(plain, **config.thresholds().overrides())


def replay_http(config: ReplayConfig, *, timeout_s: float | None = None) -> ReplayResult:
    """Serve the replay's service on loopback and post A and B to it; both records once A's
    fate is settled. ``timeout_s``: each client's own (default: four ASR timeouts + 120 s,
    longer than any remedy lets a job run)."""
    from asrlab.endpoint.server import ServeConfig, serve_in_thread
    from asrlab.service.build import arbiter_events

    a_samples, a_label = corpus.load_source(
        config.a_source, length_s=config.a_length_s, noise_seed=config.a_noise_seed
    )
    b_samples, b_label = corpus.load_source(config.b_source)
    uploads = {"A": wav_bytes(a_samples), "B": wav_bytes(b_samples)}
    values = config.thresholds()
    wait_s = timeout_s or 4 * values.asr_timeout_s + 120.0
    with serve_in_thread(ServeConfig(settings=service_settings(config))) as server:
        tap = _Tap(server.host)
        answers: dict[str, HttpAnswer | Exception] = {}

        def post(job_id: str) -> None:
            try:
                answers[job_id] = _post(server.url, job_id, uploads[job_id], config, wait_s)
            except Exception as e:  # re-raised below, in the caller's thread
                answers[job_id] = e

        job_a = threading.Thread(target=post, args=("A",), name="replay-A")
        started = time.monotonic()
        job_a.start()
        time.sleep(max(0.0, started + values.b_delay_s - time.monotonic()))
        post("B")
        job_a.join()
        a, b = (_answer(job_id, answers) for job_id in ("A", "B"))
        records = {job_id: tap.settled(job_id) for job_id in ("A", "B")}
        node = server.host._node  # the one node the server runs every job on
        if node is None:
            raise AsrlabError("the served replay's service stopped before its jobs were read")
        events = arbiter_events(node.arbiter)
        remedy = node.remedy
    return ReplayResult(
        config, remedy, records["A"], records["B"], a_label, b_label, events, values, (a, b)
    )


def _post(url: str, job_id: str, data: bytes, config: ReplayConfig, timeout_s: float) -> HttpAnswer:
    """One job's request, as a web client sends it; what it got."""
    import httpx

    from asrlab.endpoint.app import JOB_ID_HEADER  # the app names the job by it

    form = {"model": config.model, "response_format": "verbose_json"}
    sent = time.monotonic()
    with httpx.Client(timeout=timeout_s) as client:
        response = client.post(
            f"{url}/v1/audio/transcriptions",
            files={"file": (f"{job_id}.wav", data, "audio/wav")},
            data=form,
            headers={JOB_ID_HEADER: job_id},
        )
    latency_s = time.monotonic() - sent
    retry = response.headers.get("Retry-After")
    error = None
    if response.status_code != 200:  # the error body's message, else whatever the body says
        try:
            body = response.json()
        except ValueError:
            body = None
        found = body.get("error") if isinstance(body, dict) else None
        error = str(found["message"]) if isinstance(found, dict) else response.text
    return HttpAnswer(
        response.status_code, latency_s, error, None if retry is None else int(retry)
    )


def _answer(job_id: str, answers: dict[str, HttpAnswer | Exception]) -> HttpAnswer:
    got = answers.get(job_id)
    if isinstance(got, BaseException):
        raise AsrlabError(f"job {job_id}'s request got no answer: {type(got).__name__}: {got}")
    if got is None:
        raise AsrlabError(f"job {job_id}'s request was never made")
    return got


@dataclass
class _Job:
    record: JobRecord | None = None
    settling: threading.Event | None = None  # set once the one settle of the job has ended


class _Tap:
    """The node's records of the replay's jobs, as the app gets them from its host.

    The server keeps its records to itself (the HTTP answer is the client's view); the replay
    wants the node's own, with the timeline and A's late result, as the in-process replay has
    them. So it wraps the host's ``run`` and ``settle`` on this one server. The app answers,
    then settles each job in the background (the late result goes onto the same record); the
    replay waits for that settle, and a second settle of a job only waits for the first, so
    no late result is marked twice. An app that has not settled a job `SETTLE_CALL_S` after
    its answer leaves it to the replay.
    """

    def __init__(self, host: Any) -> None:
        self.host = host
        self.jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        run: Callable[..., JobRecord] = host.run
        settle: Callable[[JobRecord], None] = host.settle

        def tapped_run(job_id: str, data: bytes, **kwargs: Any) -> JobRecord:
            record = run(job_id, data, **kwargs)
            self._job(job_id).record = record
            return record

        def tapped_settle(record: JobRecord) -> None:
            job = self._job(record.job_id)
            with self._lock:
                first, job.settling = job.settling is None, job.settling or threading.Event()
            if not first:
                job.settling.wait(SETTLE_WAIT_S)
                return
            try:
                settle(record)
            finally:
                job.settling.set()

        host.run, host.settle = tapped_run, tapped_settle

    def _job(self, job_id: str) -> _Job:
        with self._lock:
            return self.jobs.setdefault(job_id, _Job())

    def settled(self, job_id: str) -> JobRecord:
        """``job_id``'s record once its late result (if any) is in."""
        job = self._job(job_id)
        record = job.record
        if record is None:
            raise AsrlabError(f"job {job_id} never reached the node (refused before it ran)")
        end = time.monotonic() + SETTLE_CALL_S
        while job.settling is None and time.monotonic() < end:
            time.sleep(0.02)
        self.host.settle(record)  # through the tap: waits for the app's settle, or is the one
        if job.settling is None or not job.settling.wait(SETTLE_WAIT_S):
            raise AsrlabError(f"job {job_id} was not settled within {SETTLE_WAIT_S:.0f} s")
        return record
