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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.transcribe import Segment, TranscriptionInfo

from asrlab.audio.samples import SAMPLE_RATE_HZ, decode
from asrlab.decoding import models
from asrlab.decoding.options import DecodeConfig, default_threads
from asrlab.decoding.trace import DecodeTrace, SegmentRecord, Window, WindowOutcome
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
        self._owner._on_generate(time.perf_counter() - t0, len(prompts[0]), kwargs, out)
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
    batch: list[Any] = field(default_factory=list)  # every result of the latest generate call
    extras: DecodeConfig | None = None  # the lab's additions to the loop (reuse, loops, budget)
    language_encoding: Any = None  # window 0 as language detection encoded it, kept for reuse
    over_budget: bool = False  # the fallback budget ended the current window's ladder

    @property
    def reuse(self) -> bool:
        return bool(self.extras and self.extras.reuse_language_encoding)


class _BudgetedTemperatures:
    """The fallback ladder's temperatures, handed out only while the window's budget allows.

    faster-whisper's ``generate_with_fallback`` iterates ``options.temperatures``; when the
    iteration ends before an attempt passes, its own ``for ... else`` keeps the best attempt (by
    avg_logprob, preferring those under the compression-ratio threshold). So stopping the
    iteration is the whole remedy: no decoding rule is copied.
    """

    def __init__(self, temperatures: list[float], rec: _Recorder, multiple: float) -> None:
        self._temperatures = list(temperatures)
        self._rec = rec
        self._multiple = multiple

    def __iter__(self) -> Iterator[float]:
        for i, temperature in enumerate(self._temperatures):
            spent = [a.seconds for a in self._rec.raw]
            # The next attempt is estimated at the last one's cost: sampled attempts decode
            # best_of hypotheses and cost more than the first beam search, never much less.
            if i > 0 and sum(spent) + spent[-1] > self._multiple * spent[0]:
                self._rec.over_budget = True
                return
            yield temperature

    def __len__(self) -> int:
        return len(self._temperatures)

    def __getitem__(self, i: int) -> float:
        return self._temperatures[i]


class _Dropped:
    """A decode result that faster-whisper's no-speech rule will skip (``reject_loops``).

    ``generate_segments`` drops a window when ``no_speech_prob`` exceeds its threshold and the
    average log probability is under its own; this result says both, so the window yields
    nothing and the loop moves to the next window, exactly as for silence.
    """

    no_speech_prob = 1.0

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


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
        compute_type: str = models.DEFAULT_COMPUTE_TYPE,
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
        self.model: Any = _TimedWhisper(self.model, self)
        self.feature_extractor: Any = _TimedFeatures(self.feature_extractor, self)
        self._rec: _Recorder | None = None
        self._sampled = False
        self._extras: DecodeConfig | None = None  # `start` sets it for one transcription
        self.last_trace: DecodeTrace | None = None
        # Cooperative timeout: a time.monotonic() instant; checked between windows and attempts.
        self.deadline: float | None = None

    @property
    def compute_type(self) -> str:
        """What CTranslate2 loaded the weights as: the asked type resolved (``auto`` and ``int8``
        run as ``int8_float32`` on a CPU). Every trace records it."""
        return str(self.model.compute_type)

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

    def _on_generate(
        self, seconds: float, prompt_len: int, kwargs: dict[str, Any], out: Any
    ) -> None:
        if kwargs.get("sampling_temperature", 0.0) > 0:
            self._sampled = True
        if self._rec is not None:
            self._rec.raw.append(RawAttempt(seconds, prompt_len, kwargs, out[0]))
            self._rec.batch = list(out)

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
        rec.raw, rec.over_budget = [], False
        extras = rec.extras
        budget = None if extras is None else extras.token_budget(rec.trace.audio_s)
        if budget is not None:
            # The audio as decoded (after the VAD gate's cut), up to one window: faster-whisper
            # does not tell this hook where in the audio the window starts, so a later window
            # of a long clip gets a whole window's budget, at most the 224-token limit.
            # CTranslate2 stops at (prompt + max_new_tokens) // 2 new tokens (verdicts.py), so
            # the cap handed to faster-whisper is what makes that equal the budget.
            cap = min(max(budget, 2 * budget - len(prompt)), self.max_length - len(prompt))
            options = replace(options, max_new_tokens=cap)
        if extras is not None and extras.fallback_budget is not None:
            budgeted = _BudgetedTemperatures(options.temperatures, rec, extras.fallback_budget)
            options = replace(options, temperatures=budgeted)
        decoded = super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
        window.attempts = judge_attempts(
            window.index,
            rec.raw,
            tokenizer,
            options,
            self.max_length,
            over_budget=rec.over_budget,
        )
        rec.raw = []
        result, avg_logprob, temperature, compression_ratio = decoded
        threshold = options.compression_ratio_threshold
        if extras is not None and extras.reject_loops and compression_ratio > threshold:
            window.outcome = WindowOutcome.UNINTELLIGIBLE
            return _Dropped(result), -float("inf"), temperature, compression_ratio
        # The same test generate_segments applies right after this call.
        skipped = (
            options.no_speech_threshold is not None
            and result.no_speech_prob > options.no_speech_threshold
            and not (
                options.log_prob_threshold is not None and avg_logprob > options.log_prob_threshold
            )
        )
        window.outcome = WindowOutcome.NO_SPEECH if skipped else WindowOutcome.SEGMENTS
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

    def transcribe(
        self, audio: Any, *args: Any, **kwargs: Any
    ) -> tuple[Iterable[Segment], TranscriptionInfo]:
        """``WhisperModel.transcribe`` with tracing; see `last_trace`."""
        return self._traced(super().transcribe, audio, *args, **kwargs)

    def transcribe_batched(
        self, audio: Any, batch_size: int, **kwargs: Any
    ) -> tuple[Iterable[Segment], TranscriptionInfo]:
        """faster-whisper's ``BatchedInferencePipeline.transcribe`` on this model, traced.

        In the trace each batch is one window whose attempts are its chunks: one generate call
        decodes them all, so each chunk is given an equal share of the call's seconds.
        """
        pipeline = _TracedBatched(self)
        return self._traced(pipeline.transcribe, audio, batch_size=batch_size, **kwargs)

    def _traced(
        self, call: Any, audio: Any, *args: Any, **kwargs: Any
    ) -> tuple[Iterable[Segment], TranscriptionInfo]:
        cfg = {"args": list(args)} | kwargs if args else dict(kwargs)
        trace = DecodeTrace(
            model=self.name, audio_s=0.0, config=_jsonable(cfg), compute_type=self.compute_type
        )
        rec = _Recorder(trace, extras=self._extras)
        self._rec, self.last_trace = rec, trace
        t0 = time.perf_counter()
        try:
            if not isinstance(audio, np.ndarray):
                audio = decode(audio)
                trace.audio_decode_s = time.perf_counter() - t0
            trace.audio_s = len(audio) / SAMPLE_RATE_HZ
            segments, info = call(audio, *args, **kwargs)
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
                            outcome=WindowOutcome.STOPPED,
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
        self._extras = config
        try:
            kwargs = config.transcribe_kwargs()
            if config.batch_size:
                segments, _ = self.transcribe_batched(audio, config.batch_size, **kwargs)
            else:
                segments, _ = self.transcribe(audio, **kwargs)
        finally:
            self._extras = None
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


class _TracedBatched(BatchedInferencePipeline):
    """faster-whisper's batched pipeline, each batch recorded as one window of the trace."""

    model: TracedModel

    def forward(self, features, tokenizer, chunks_metadata, options):  # type: ignore[no-untyped-def]
        owner = self.model
        rec = owner._rec
        if rec is None:
            return super().forward(features, tokenizer, chunks_metadata, options)
        owner._check_deadline(f"before batch {len(rec.trace.windows)}")
        rec.raw, rec.batch = [], []
        out = super().forward(features, tokenizer, chunks_metadata, options)
        window = Window(index=len(rec.trace.windows), outcome=WindowOutcome.SEGMENTS)
        window.encode_s, window.detect_s = rec.pending_encode_s, rec.pending_detect_s
        rec.pending_encode_s = rec.pending_detect_s = 0.0
        if rec.raw:  # one generate call for the whole batch: each chunk judged on its own
            call = rec.raw[-1]
            share_s = call.seconds / max(1, len(rec.batch))
            for i, result in enumerate(rec.batch):
                one = RawAttempt(share_s, call.prompt_len, call.kwargs, result)
                (attempt,) = judge_attempts(
                    window.index, [one], tokenizer, options, owner.max_length
                )
                window.attempts.append(replace(attempt, index=i))
        rec.trace.windows.append(window)
        rec.raw, rec.batch = [], []
        return out


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
    compute_type: str = models.DEFAULT_COMPUTE_TYPE,
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
