"""What a traced decode recorded: stages, 30 s windows and decoding attempts.

A `DecodeTrace` answers "where did the time go?" for one transcription. Inside ``transcribe()``
faster-whisper only extracts features and, with ``language=None``, detects the language; the real
work happens while the segment generator is iterated: each 30 s window is encoded, then decoded by
``generate_with_fallback``, which retries at rising temperatures when an attempt fails the
compression-ratio or log-probability check. Every attempt is one row here.

These are plain records; `asrlab.decoding.decoder.TracedModel` fills them in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

# Why an attempt ended the fallback loop, or why it did not.
ACCEPTED = "accepted"  # passed every enabled check
RETRY = "retry"  # failed a check; the next temperature follows
NO_SPEECH = "no_speech"  # failed log-prob but no_speech_prob is high: treated as silence, loop ends
ALL_FAILED = "all_failed"  # the last temperature failed too; the best-logprob attempt is kept
STOPPED = "stopped"  # failed, and a cooperative deadline stopped the loop before the retry
OVER_BUDGET = "over_budget"  # failed, and the fallback budget ended the ladder: the best is kept


class WindowOutcome(enum.StrEnum):
    """What became of one 30 s window of the decode loop."""

    SEGMENTS = "segments"  # it produced text
    # faster-whisper dropped it: no-speech probability over its threshold, log probability under
    NO_SPEECH = "no_speech"
    UNINTELLIGIBLE = "unintelligible"  # `DecodeConfig.reject_loops` dropped its repetition loop
    STOPPED = "stopped"  # a cooperative deadline ended the decode before its attempts began
    # Not decided: a cooperative deadline ended the decode inside its fallback loop.
    PENDING = ""


@dataclass(frozen=True)
class Attempt:
    """One call of the CTranslate2 decoder for one window at one temperature.

    ``tokens`` counts the returned (best) hypothesis; ``tokens_all`` sums every hypothesis the
    decoder produced (``best_of`` of them when sampling), which is what the time was spent on.
    ``token_limit`` is how many new tokens the attempt was allowed: an attempt that reaches it is a
    repetition loop running to the model's 448-token context.
    """

    window: int
    index: int
    temperature: float
    mode: str
    beam_size: int
    hypotheses: int
    tokens: int
    tokens_all: int
    token_limit: int
    seconds: float
    compression_ratio: float
    avg_logprob: float
    no_speech_prob: float
    failed: tuple[str, ...]
    verdict: str
    text: str

    @property
    def hit_token_limit(self) -> bool:
        return self.tokens >= self.token_limit


@dataclass
class Window:
    """One 30 s window of the decode loop: its encoder pass, its attempts and its outcome."""

    index: int
    encode_s: float = 0.0
    detect_s: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    outcome: WindowOutcome = WindowOutcome.PENDING
    n_segments: int = 0
    start_s: float | None = None

    @property
    def decode_s(self) -> float:
        return sum(a.seconds for a in self.attempts)


@dataclass(frozen=True)
class SegmentRecord:
    """A segment as the caller received it, with the window it came from."""

    window: int
    start_s: float
    end_s: float
    text: str
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


@dataclass
class DecodeTrace:
    """Everything measured in one transcription (seconds throughout).

    ``transcribe_s`` is wall time inside ``transcribe()``; ``iterate_s`` is wall time spent inside
    the segment generator (the caller's own work between segments is not counted).
    ``compute_type`` is what CTranslate2 loaded the model as (``"auto"`` and ``"int8"`` resolved,
    e.g. ``int8_float32`` on a CPU), whatever ``config`` asked for: the service's workers load
    their own (`asrlab.service.worker.WorkerConfig.compute_type`). None in a trace of an older
    version.
    """

    model: str
    audio_s: float
    config: dict[str, Any]
    compute_type: str | None = None
    audio_decode_s: float = 0.0
    feature_s: float = 0.0
    language: str | None = None
    language_probability: float | None = None
    language_detected: bool = False
    language_encode_s: float = 0.0
    language_detect_s: float = 0.0
    transcribe_s: float = 0.0
    iterate_s: float = 0.0
    windows: list[Window] = field(default_factory=list)
    segments: list[SegmentRecord] = field(default_factory=list)
    finished: bool = False
    stopped_reason: str | None = None
    # Seconds spent before this decode rebuilding a model that an earlier decode had sampled
    # with (`asrlab.decoding.decoder.TracedModel.reseed`); outside transcribe, so not in wall_s.
    rebuild_s: float = 0.0

    @property
    def attempts(self) -> list[Attempt]:
        return [a for w in self.windows for a in w.attempts]

    @property
    def sampled(self) -> bool:
        """Whether an attempt sampled (temperature > 0): the worker's model is rebuilt before
        its next decode, so that one seed keeps meaning one set of draws."""
        return any(a.temperature > 0 for a in self.attempts)

    @property
    def wall_s(self) -> float:
        return self.transcribe_s + self.iterate_s

    @property
    def traced_s(self) -> float:
        """Seconds accounted for by named stages (audio decode, features, encoder, decoder)."""
        return self._traced_inside_transcribe() + self._traced_while_iterating()

    @property
    def coverage(self) -> float:
        """Share of wall time that the named stages explain (1.0 = all of it)."""
        return self.traced_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: wall seconds per second of audio."""
        return self.wall_s / self.audio_s if self.audio_s > 0 else float("nan")

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()

    @property
    def encoder_passes(self) -> int:
        """Encoder runs over the first window: 2 when the language was detected first, unless
        the decode reused that encoding (`DecodeConfig.reuse_language_encoding`)."""
        decoded = bool(self.windows) and self.windows[0].encode_s > 0
        return int(self.language_encode_s > 0) + int(decoded)

    def stage_rows(self) -> list[dict[str, Any]]:
        """The incident's stage table: one row per stage, with its share of the wall time."""
        rows: list[tuple[str, str, float]] = [
            ("transcribe()", "audio decode", self.audio_decode_s),
            ("transcribe()", "feature extraction", self.feature_s),
        ]
        if self.language_detected:
            rows += [
                ("transcribe()", "language detection: encode window 0", self.language_encode_s),
                ("transcribe()", "language detection: classify", self.language_detect_s),
            ]
        for w in self.windows:
            rows.append(("iterating", f"window {w.index}: encode", w.encode_s))
            if w.detect_s:
                rows.append(("iterating", f"window {w.index}: language", w.detect_s))
            rows.append(
                ("iterating", f"window {w.index}: decode ({len(w.attempts)} attempts)", w.decode_s)
            )
        rows += [
            ("transcribe()", "untraced", self.transcribe_s - self._traced_inside_transcribe()),
            ("iterating", "untraced", self.iterate_s - self._traced_while_iterating()),
        ]
        wall = self.wall_s or float("nan")
        return [{"phase": p, "stage": s, "seconds": sec, "share": sec / wall} for p, s, sec in rows]

    def _traced_inside_transcribe(self) -> float:
        return (
            self.audio_decode_s + self.feature_s + self.language_encode_s + self.language_detect_s
        )

    def _traced_while_iterating(self) -> float:
        return sum(w.encode_s + w.detect_s + w.decode_s for w in self.windows)

    def attempt_rows(self) -> list[dict[str, Any]]:
        return [asdict(a) | {"hit_token_limit": a.hit_token_limit} for a in self.attempts]

    def summary(self) -> dict[str, Any]:
        """One flat row for a results table."""
        return {
            "model": self.model,
            "compute_type": self.compute_type,
            "audio_s": self.audio_s,
            "language": self.language,
            "language_probability": self.language_probability,
            "transcribe_s": self.transcribe_s,
            "iterate_s": self.iterate_s,
            "wall_s": self.wall_s,
            "rtf": self.rtf,
            "coverage": self.coverage,
            "windows": len(self.windows),
            "attempts": len(self.attempts),
            "tokens_all": sum(a.tokens_all for a in self.attempts),
            "segments": len(self.segments),
            "finished": self.finished,
            "stopped_reason": self.stopped_reason,
            "sampled": self.sampled,
            "rebuild_s": self.rebuild_s,
            "text": self.text,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the summary, the stage table, windows with attempts, segments, and
        the timings inside ``transcribe()`` that the summary leaves out (`from_dict` reads it
        back)."""
        return {
            "summary": self.summary(),
            "config": self.config,
            "inside_transcribe": {k: getattr(self, k) for k in _INSIDE_TRANSCRIBE},
            "stages": self.stage_rows(),
            "windows": [
                {k: v for k, v in asdict(w).items() if k != "attempts"}
                | {"decode_s": w.decode_s, "attempts": [asdict(a) for a in w.attempts]}
                for w in self.windows
            ],
            "segments": [asdict(s) for s in self.segments],
        }

    @classmethod
    def from_dict(cls, blob: Mapping[str, Any]) -> DecodeTrace:
        """The trace `to_dict` wrote (also after a JSON round trip); what it derives (the stage
        table, ``wall_s``, ``text``, ...) is computed again, not read."""
        s = blob["summary"]
        return cls(
            model=s["model"],
            audio_s=s["audio_s"],
            config=dict(blob["config"]),
            compute_type=s.get("compute_type"),
            **blob.get("inside_transcribe", {}),
            language=s["language"],
            language_probability=s["language_probability"],
            transcribe_s=s["transcribe_s"],
            iterate_s=s["iterate_s"],
            windows=[_window_from(w) for w in blob["windows"]],
            segments=[SegmentRecord(**x) for x in blob["segments"]],
            finished=s["finished"],
            stopped_reason=s["stopped_reason"],
            rebuild_s=s.get("rebuild_s", 0.0),
        )


# `DecodeTrace` fields that neither the summary nor the windows hold.
_INSIDE_TRANSCRIBE = (
    "audio_decode_s",
    "feature_s",
    "language_detected",
    "language_encode_s",
    "language_detect_s",
)


def _window_from(blob: Mapping[str, Any]) -> Window:
    attempts = [Attempt(**(a | {"failed": tuple(a["failed"])})) for a in blob["attempts"]]
    return Window(
        index=blob["index"],
        encode_s=blob["encode_s"],
        detect_s=blob["detect_s"],
        attempts=attempts,
        outcome=WindowOutcome(blob["outcome"]),
        n_segments=blob["n_segments"],
        start_s=blob["start_s"],
    )


def render_text(trace: DecodeTrace, *, title: str = "") -> str:
    """A plain-text report a person can read at a glance: stages, then attempts per window."""
    out: list[str] = []
    if title:
        out.append(title)
    lang = f"{trace.language} (p={trace.language_probability:.2f})" if trace.language else "?"
    how = "detected" if trace.language_detected else "given"
    out.append(
        f"model {trace.model} | audio {trace.audio_s:.2f} s | language {lang}, {how} | "
        f"encoder passes over window 0: {trace.encoder_passes}"
    )
    out.append("")
    out.append(f"{'where the time went':<50}{'seconds':>9}{'share':>8}")
    for row in trace.stage_rows():
        if row["seconds"] == 0 and row["stage"] == "audio decode":
            continue
        label = f"{row['phase']:<13}{row['stage']}"
        out.append(f"{label:<50}{row['seconds']:>9.3f}{row['share']:>8.1%}")
    ratio = trace.iterate_s / trace.transcribe_s if trace.transcribe_s > 0 else float("nan")
    out.append(
        f"{'total':<50}{trace.wall_s:>9.3f}{'':>8}\n"
        f"inside transcribe() {trace.transcribe_s:.2f} s, "
        f"iterating segments {trace.iterate_s:.2f} s "
        f"({ratio:.1f}x); RTF {trace.rtf:.2f}; stages explain {trace.coverage:.1%} of the wall time"
    )
    for w in trace.windows:
        start = f"from {w.start_s:.1f} s" if w.start_s is not None else "start not known"
        out.append("")
        out.append(
            f"window {w.index} ({start}): encode {w.encode_s:.3f} s, {len(w.attempts)} attempt(s) "
            f"{w.decode_s:.2f} s -> {w.outcome}"
            + (f" ({w.n_segments} segment(s))" if w.outcome == WindowOutcome.SEGMENTS else "")
        )
        out.append(
            f"  {'#':>2} {'temp':>5} {'mode':<12}{'tokens':>7}{'limit':>6}{'all hyp':>8}"
            f"{'seconds':>9}{'compr':>7}{'logprob':>8}{'no_sp':>7}  verdict: why"
        )
        for a in w.attempts:
            mode = f"beam {a.beam_size}" if a.mode == "beam" else f"sample x{a.hypotheses}"
            why = "; ".join(a.failed) if a.failed else "all checks passed"
            if a.verdict == NO_SPEECH:
                why += f"; no_speech_prob {a.no_speech_prob:.2f} high: silence, stop"
            out.append(
                f"  {a.index:>2} {a.temperature:>5.1f} {mode:<12}{a.tokens:>7}{a.token_limit:>6}"
                f"{a.tokens_all:>8}{a.seconds:>9.2f}{a.compression_ratio:>7.2f}"
                f"{a.avg_logprob:>8.2f}{a.no_speech_prob:>7.2f}  {a.verdict}: {why}"
            )
    out.append("")
    if trace.segments:
        out.append(f"transcript ({len(trace.segments)} segment(s)):")
        out += [f"  [{s.start_s:6.2f} -> {s.end_s:6.2f}] {s.text.strip()}" for s in trace.segments]
    else:
        out.append("transcript: (no segments)")
    if trace.stopped_reason:
        out.append(f"stopped early: {trace.stopped_reason}")
    return "\n".join(out)
