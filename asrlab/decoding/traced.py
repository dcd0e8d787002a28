"""A faster-whisper model that traces where its time goes, and how to load one.

`TracedModel` is a `WhisperModel` whose CTranslate2 calls (encode, detect_language, generate) and
feature extraction are timed and attributed to stages, 30 s windows and temperature-fallback
attempts (see `asrlab.decoding.trace`). Nothing in faster-whisper's decoding logic is copied or
changed: the model is a subclass that wraps the calls it already makes, so what is measured is
what production runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment, TranscriptionInfo

from asrlab.audio.samples import SAMPLE_RATE_HZ, decode
from asrlab.decoding import models
from asrlab.decoding.options import DecodeConfig, default_threads
from asrlab.decoding.trace import DecodeTrace, SegmentRecord, Window
from asrlab.decoding.verdicts import RawAttempt, judge_attempts
from asrlab.errors import ConfigError


class DeadlineReached(Exception):
    """Raised inside the decode loop when a cooperative deadline has passed (internal).

    `TracedModel` catches it where it iterates the segments, so the caller sees the generator end
    with the segments decoded so far and ``trace.stopped_reason`` saying why.
    """


class _Timed:
    """Transparent proxy that times chosen methods of an object it wraps.

    CTranslate2's model is a native object whose methods cannot be patched, so the traced model
    swaps in this proxy; every other attribute is forwarded untouched.
    """

    def __init__(self, inner: Any, owner: TracedModel) -> None:
        self._inner = inner
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _TimedWhisper(_Timed):
    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        self._owner._check_deadline("before encoding a window")
        t0 = time.perf_counter()
        out = self._inner.encode(features, to_cpu=to_cpu)
        self._owner._on_encode(time.perf_counter() - t0, out)
        return out

    def detect_language(self, encoder_output: Any) -> Any:
        t0 = time.perf_counter()
        out = self._inner.detect_language(encoder_output)
        self._owner._on_detect(time.perf_counter() - t0)
        return out

    def generate(self, encoder_output: Any, prompts: list[list[int]], **kwargs: Any) -> Any:
        self._owner._check_deadline("before a decoding attempt")
        t0 = time.perf_counter()
        out = self._inner.generate(encoder_output, prompts, **kwargs)
        self._owner._on_generate(time.perf_counter() - t0, len(prompts[0]), kwargs, out[0])
        return out


class _TimedFeatures(_Timed):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = self._inner(*args, **kwargs)
        self._owner._on_features(time.perf_counter() - t0)
        return out


@dataclass
class _Recorder:
    """Per-transcription recording state: the trace plus where in the decode loop we are."""

    trace: DecodeTrace
    in_language_detection: bool = False
    pending_encode_s: float = 0.0
    pending_detect_s: float = 0.0
    raw: list[RawAttempt] = field(default_factory=list)
    reuse: bool = False  # DecodeConfig.reuse_language_encoding
    language_encoding: Any = None  # window 0 as language detection encoded it, kept for reuse


class TracedModel(WhisperModel):
    """`WhisperModel` that records a `DecodeTrace` for every transcription.

    Use it as a drop-in (``segments, info = model.transcribe(...)``; the trace of the latest call is
    ``model.last_trace`` and fills in as ``segments`` is iterated) or call `run` with a
    `DecodeConfig` to get a finished trace. One transcription is recorded at a time per model; do
    not share a TracedModel between threads.
    """

    def __init__(
        self,
        model_path: str,
        *,
        name: str = "",
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        num_workers: int = 1,
    ) -> None:
        if not os.path.isdir(model_path):
            raise ConfigError("model_path", model_path, "TracedModel needs a model folder")
        super().__init__(
            model_path,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
        )
        self.name = name or model_path
        self.model_path = model_path
        self._ct2_kwargs: dict[str, Any] = dict(
            device=device,
            compute_type=compute_type,
            intra_threads=cpu_threads,
            inter_threads=num_workers,
        )
        self.model = _TimedWhisper(self.model, self)
        self.feature_extractor = _TimedFeatures(self.feature_extractor, self)
        self._rec: _Recorder | None = None
        self._sampled = False
        self._reuse = False  # `start` sets it from the config for one transcription
        self.last_trace: DecodeTrace | None = None
        # Cooperative timeout: a time.monotonic() instant; checked between windows and attempts.
        self.deadline: float | None = None

    def reseed(self, seed: int) -> bool:
        """Make the next sampling attempts depend on ``seed`` alone.

        CTranslate2 seeds each worker thread's generator once, at that thread's first draw
        (``static thread_local std::mt19937`` in its random.cc), so a later
        ``set_random_seed`` does not affect a model that has already sampled: such a model is
        rebuilt (0.3 s for base on CPU) so that repeated runs with one seed really repeat.
        Returns whether it was rebuilt.
        """
        ctranslate2.set_random_seed(seed)
        if not self._sampled:
            return False
        inner = ctranslate2.models.Whisper(self.model_path, **self._ct2_kwargs)
        self.model = _TimedWhisper(inner, self)
        self._sampled = False
        return True

    def _check_deadline(self, where: str) -> None:
        rec = self._rec
        # Language detection runs inside transcribe(), before any window: it is not stopped.
        if self.deadline is not None and rec is not None and not rec.in_language_detection:
            late_s = time.monotonic() - self.deadline
            if late_s >= 0:
                raise DeadlineReached(f"deadline passed {late_s:.3f} s earlier, {where}")

    # --- callbacks from the proxies -------------------------------------------------------
    def _on_features(self, seconds: float) -> None:
        if self._rec is not None:
            self._rec.trace.feature_s += seconds

    def _on_encode(self, seconds: float, output: Any) -> None:
        rec = self._rec
        if rec is None:
            return
        if rec.in_language_detection:
            rec.trace.language_encode_s += seconds
            if rec.reuse and rec.language_encoding is None:  # the first detection window is 0
                rec.language_encoding = output
        else:
            rec.pending_encode_s += seconds

    def _on_detect(self, seconds: float) -> None:
        rec = self._rec
        if rec is None:
            return
        if rec.in_language_detection:
            rec.trace.language_detect_s += seconds
        else:
            rec.pending_detect_s += seconds

    def _on_generate(self, seconds: float, prompt_len: int, kwargs: dict[str, Any], result: Any):
        if kwargs.get("sampling_temperature", 0.0) > 0:
            self._sampled = True
        if self._rec is not None:
            self._rec.raw.append(RawAttempt(seconds, prompt_len, kwargs, result))

    # --- the overridden steps of faster-whisper -------------------------------------------
    def detect_language(self, *args: Any, **kwargs: Any) -> Any:
        rec = self._rec
        if rec is None:
            return super().detect_language(*args, **kwargs)
        rec.in_language_detection = True
        try:
            language, probability, all_probs = super().detect_language(*args, **kwargs)
        finally:
            rec.in_language_detection = False
        rec.trace.language_detected = True
        rec.trace.language, rec.trace.language_probability = language, float(probability)
        return language, probability, all_probs

    def generate_with_fallback(self, encoder_output, prompt, tokenizer, options):  # type: ignore[no-untyped-def]
        rec = self._rec
        if rec is None:
            return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
        self._check_deadline(f"before window {len(rec.trace.windows)}")
        window = Window(
            index=len(rec.trace.windows),
            encode_s=rec.pending_encode_s,
            detect_s=rec.pending_detect_s,
        )
        rec.trace.windows.append(window)
        rec.pending_encode_s = rec.pending_detect_s = 0.0
        rec.raw = []
        decoded = super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
        window.attempts = judge_attempts(
            window.index, rec.raw, tokenizer, options, self.max_length
        )
        rec.raw = []
        result, avg_logprob = decoded[0], decoded[1]
        # The same test generate_segments applies right after this call.
        skipped = (
            options.no_speech_threshold is not None
            and result.no_speech_prob > options.no_speech_threshold
            and not (
                options.log_prob_threshold is not None and avg_logprob > options.log_prob_threshold
            )
        )
        window.outcome = "no_speech" if skipped else "segments"
        return decoded

    def generate_segments(  # type: ignore[no-untyped-def]
        self, features, tokenizer, options, log_progress=False, encoder_output=None
    ):
        """faster-whisper's decode loop, handed window 0's encoding from language detection when
        the config reuses it: the loop skips its own encoder pass when it gets one (1.2.1's
        ``if seek > 0 or encoder_output is None``), but ``transcribe()`` never passes it."""
        rec = self._rec
        if encoder_output is None and rec is not None and rec.language_encoding is not None:
            encoder_output, rec.language_encoding = rec.language_encoding, None
        return super().generate_segments(features, tokenizer, options, log_progress, encoder_output)

    def transcribe(  # type: ignore[override]
        self, audio: Any, *args: Any, **kwargs: Any
    ) -> tuple[Iterable[Segment], TranscriptionInfo]:
        """``WhisperModel.transcribe`` with tracing; see `last_trace`."""
        cfg = {"args": list(args)} | kwargs if args else dict(kwargs)
        trace = DecodeTrace(model=self.name, audio_s=0.0, config=_jsonable(cfg))
        rec = _Recorder(trace, reuse=self._reuse)
        self._rec, self.last_trace = rec, trace
        t0 = time.perf_counter()
        try:
            if not isinstance(audio, np.ndarray):
                audio = decode(audio)
                trace.audio_decode_s = time.perf_counter() - t0
            trace.audio_s = len(audio) / SAMPLE_RATE_HZ
            segments, info = super().transcribe(audio, *args, **kwargs)
        finally:
            trace.transcribe_s = time.perf_counter() - t0
            self._rec = None
        if not trace.language_detected:
            trace.language, trace.language_probability = info.language, info.language_probability
        return self._iterate(segments, rec), info

    def _iterate(self, segments: Iterable[Segment], rec: _Recorder) -> Iterator[Segment]:
        """Yield the segments, counting only the time spent inside faster-whisper's generator."""
        trace = rec.trace
        it = iter(segments)
        while True:
            self._rec = rec  # another transcription may have run between two segments
            t0 = time.perf_counter()
            try:
                seg = next(it)
            except StopIteration:
                trace.iterate_s += time.perf_counter() - t0
                trace.finished = True
                return
            except DeadlineReached as stop:
                trace.iterate_s += time.perf_counter() - t0
                trace.stopped_reason = str(stop)
                if rec.pending_encode_s or rec.pending_detect_s:  # a window begun, not decoded
                    trace.windows.append(
                        Window(
                            index=len(trace.windows),
                            encode_s=rec.pending_encode_s,
                            detect_s=rec.pending_detect_s,
                            outcome="stopped",
                        )
                    )
                return
            finally:
                self._rec = None
            trace.iterate_s += time.perf_counter() - t0
            window = trace.windows[-1]
            window.n_segments += 1
            if window.start_s is None:
                window.start_s = seg.seek * self.feature_extractor.time_per_frame
            trace.segments.append(
                SegmentRecord(
                    window=window.index,
                    start_s=seg.start,
                    end_s=seg.end,
                    text=seg.text,
                    temperature=seg.temperature,
                    avg_logprob=seg.avg_logprob,
                    compression_ratio=seg.compression_ratio,
                    no_speech_prob=seg.no_speech_prob,
                )
            )
            yield seg

    def start(self, audio: Any, config: DecodeConfig) -> Iterator[Segment]:
        """Seed the sampler and transcribe ``audio`` with ``config``; the segments, lazily.

        ``last_trace`` carries the config (and its hash) and fills in as they are iterated.
        """
        t0 = time.perf_counter()
        rebuilt = self.reseed(config.seed)
        rebuild_s = time.perf_counter() - t0 if rebuilt else 0.0
        self._reuse = config.reuse_language_encoding
        try:
            segments, _ = self.transcribe(audio, **config.transcribe_kwargs())
        finally:
            self._reuse = False
        assert self.last_trace is not None
        self.last_trace.config = asdict(config) | {"config_hash": config.config_hash()}
        self.last_trace.rebuild_s = rebuild_s  # a cost of this job, paid for the one before
        return iter(segments)

    def run(self, audio: Any, config: DecodeConfig) -> DecodeTrace:
        """`start`, then iterate to the end; the finished trace (``segments`` hold the text)."""
        for _ in self.start(audio, config):
            pass
        assert self.last_trace is not None
        return self.last_trace


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return json.loads(json.dumps(value, default=repr))


def load_model(
    name: str = models.DEFAULT_MODEL,
    *,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
) -> TracedModel:
    """Resolve ``name`` (see `asrlab.decoding.models.resolve`) and load it as a `TracedModel`.

    ``device="auto"`` picks CUDA with float16 when CTranslate2 sees a GPU, else CPU with int8;
    ``cpu_threads=0`` uses one thread per available core.
    """
    where = models.placement(device, compute_type)
    path = models.resolve(name)
    if not os.path.isdir(path):
        from faster_whisper.utils import download_model

        path = download_model(path)  # a hub name: faster-whisper's own download (network)
    return TracedModel(
        path,
        name=name,
        device=where.device,
        compute_type=where.compute_type,
        cpu_threads=cpu_threads or default_threads(),
    )
