"""What a job that succeeded looks like on the wire: OpenAI's response formats (json, text, srt,
vtt, verbose_json with the lab's timeline and attempts), the server-sent events of
``stream=true``, and the ``Server-Timing`` header. Pure: no Starlette, no decoder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

from asrlab.service.rows import Mark

if TYPE_CHECKING:
    from asrlab.decoding.trace import SegmentRecord
    from asrlab.service.node import JobRecord

SEEK_PER_WINDOW: Final = 3000  # Whisper's seek: 10 ms mel frames, 3000 in a 30 s window
JSON: Final = "application/json"
TEXT: Final = "text/plain; charset=utf-8"  # text, srt and vtt, as OpenAI sends them
EVENT_STREAM: Final = "text/event-stream"  # stream=true: server-sent events


def render(record: JobRecord, response_format: str) -> tuple[str, str | dict[str, Any]]:
    """(media type, body) of a job that succeeded; a dict body is sent as JSON."""
    if response_format == "json":
        return JSON, {"text": record.text}
    if response_format == "verbose_json":
        return JSON, verbose_json(record)
    if response_format == "text":
        return TEXT, record.text
    if response_format == "srt":
        return TEXT, srt(record.segments)
    if response_format == "vtt":
        return TEXT, vtt(record.segments)
    raise ValueError(f"response_format {response_format!r}: parse_fields lets no such one by")


def clock(seconds: float, sep: str) -> str:
    """``HH:MM:SS<sep>mmm`` (``,`` for SRT, ``.`` for WebVTT)."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(segments: Sequence[SegmentRecord]) -> str:
    return "".join(
        f"{i}\n{clock(s.start_s, ',')} --> {clock(s.end_s, ',')}\n{s.text.strip()}\n\n"
        for i, s in enumerate(segments, start=1)
    )


def vtt(segments: Sequence[SegmentRecord]) -> str:
    cues = "".join(
        f"{clock(s.start_s, '.')} --> {clock(s.end_s, '.')}\n{s.text.strip()}\n\n" for s in segments
    )
    return f"WEBVTT\n\n{cues}"


def verbose_json(record: JobRecord) -> dict[str, Any]:
    """OpenAI's verbose transcription (task, language, duration, text, segments), plus
    ``asrlab``: the job's id and remedy, its timeline (event, seconds since receipt), every
    decoder attempt of every window, and its `JobRow`."""
    trace = record.trace
    attempts = [] if trace is None else [asdict(a) for w in trace.windows for a in w.attempts]
    return {
        "task": "transcribe",
        "language": (trace.language if trace is not None else None) or "",
        "duration": record.audio_s,
        "text": record.text,
        "segments": [
            {
                "id": i,
                "seek": s.window * SEEK_PER_WINDOW,
                "start": s.start_s,
                "end": s.end_s,
                "text": s.text,
                "tokens": [],
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for i, s in enumerate(record.segments)
        ],
        "asrlab": {
            "job_id": record.job_id,
            "remedy": record.remedy,
            "notice": record.notice,
            "timeline": [{"event": event, "t_s": t} for event, t in record.timeline],
            "attempts": attempts,
            "row": asdict(record.row()),
        },
    }


# Server-sent events (stream=true), as OpenAI's client parses them: each ``data:`` line is JSON.
def sse(event: Mapping[str, Any]) -> bytes:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def delta_event(segment: SegmentRecord) -> dict[str, Any]:
    """One segment as it was decoded: OpenAI's ``transcript.text.delta`` plus the segment."""
    return {"type": "transcript.text.delta", "delta": segment.text, "segment": asdict(segment)}


def done_event(record: JobRecord) -> dict[str, Any]:
    """The last event: OpenAI's ``transcript.text.done`` plus the job's timeline and row."""
    verbose = verbose_json(record)
    return {"type": "transcript.text.done", "text": record.text, "asrlab": verbose["asrlab"]}


def server_timing(record: JobRecord, upload_s: float) -> str:
    """The ``Server-Timing`` header: each stage the job passed, in milliseconds."""
    trace, worker = record.trace, record.worker
    stages = {
        "upload": upload_s,
        "decode": record.marks.get(Mark.DECODED),
        "vad": record.vad_s,
        "lease": record.lease_wait_s,
        "queue": None if worker is None else worker.queue_wait_s,
        "transcribe": None if trace is None else trace.transcribe_s,
        "segments": None if trace is None else trace.iterate_s,
        "total": record.total_s,
    }
    return ", ".join(f"{k};dur={v * 1000:.1f}" for k, v in stages.items() if v is not None)
