"""The VAD stage: Silero speech spans, from one of two backends driven by one config.

Backends (`BACKENDS`, the pair the lab compares, and `ALL_BACKENDS`):

- ``"onnx"``: faster-whisper 1.2.1's own Silero VAD, exactly as ``vad_filter=True`` runs it:
  ``faster_whisper.vad.get_speech_timestamps`` on ONNX Runtime (one intra-op thread), up
  to 10,000 frames (320 s) scored per session call.
- ``"torch"``: the ``silero-vad`` package's ``get_speech_timestamps`` on torch, one 32 ms frame
  per model call, with the TorchScript model of silero-vad 6.0/6.1 (`V60_JIT`): the Silero v6.0
  weights, the ones faster-whisper 1.2.1 bundles as ONNX. Same weights, so the pair differs only
  in runtime and framing: on the corpus their frame probabilities agree to 2e-6.
- ``"torch_v6.2"``: the same code with the model silero-vad 6.2.3 itself ships
  (``load_silero_vad()``), Silero's v6.2 weights, for what newer weights change.

Both turn per-frame speech probabilities into spans with the same algorithm, but their defaults
differ (silero-vad: 100 ms minimum silence, 30 ms padding, 250 ms minimum speech, and the
"longest silence" cut at ``max_speech_duration_s``). `VadConfig` holds faster-whisper's defaults
and is handed, translated, to both, so the post-processing is identical: given the same
probabilities, both give the same spans to the sample (tests/audio/test_vad.py checks it).

Why the v6.0 TorchScript file is bundled (asrlab/data/vad/PROVENANCE.md): faster-whisper 1.2.1
(2025-10-31) ships Silero v6.0 weights, rebuilt before v6.2 (SYSTRAN/faster-whisper#1390 brought
those later), and silero-vad 6.2.3 ships v6.2. The packages that ship v6.0 on torch, silero-vad
6.0.0 and 6.1.0, import torchaudio, which has no wheel for the lab's torch 2.13. The v6.0 and
v6.2 probabilities differ by up to 0.8 on the corpus, which moves a span boundary wherever a
probability sits near the threshold: up to 176 ms (en_librispeech_1089-134686-0001, the start of
its only span: v6.2 first crosses 0.5 at 0.576 s, v6.0 at 0.352 s). `frame_probs` shows the
probabilities. Two framing details of faster-whisper also differ, harmlessly: it scores one
extra all-zero frame when the length is a multiple of 512 samples, and zeroes the last 64 samples
of the final frame.

Importing this module is cheap: faster-whisper, torch and silero_vad load on first use.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asrlab.audio.samples import SAMPLE_RATE_HZ, validate
from asrlab.errors import ConfigError

BACKENDS = ("onnx", "torch")  # the same Silero weights on two runtimes: the comparison
ALL_BACKENDS = (*BACKENDS, "torch_v6.2")
# Silero v6.0 as TorchScript, byte-for-byte from the silero-vad 6.1.0 wheel (MIT, PROVENANCE.md).
V60_JIT = Path(__file__).resolve().parents[1] / "data" / "vad" / "silero_vad_v6.0.jit"
FRAME_SAMPLES = 512  # Silero's window at 16 kHz: one probability per 32 ms
# Frames of one call are sequential (an LSTM), so a second thread only splits 512-sample matrix
# products: on 2 cores it measured no faster, and it would take the core the decoder runs on.
# It is also what the onnx backend gets from faster-whisper (intra_op_num_threads=1).
TORCH_THREADS = 1
_WARM_UP_S = 1.0  # audio scored by `warm_up`: enough frames for TorchScript's profiling runs
# Silero's own constant for the "last silence" cut at max_speech_duration_s (98 ms in both).
_MIN_SILENCE_AT_MAX_SPEECH_MS = 98


@dataclass(frozen=True)
class VadConfig:
    """Options of the VAD stage; the defaults are faster-whisper 1.2.1's `VadOptions`.

    Attributes:
        threshold: a 32 ms frame whose speech probability is at least this starts speech.
        neg_threshold: inside speech, a frame below this counts as silence; None means
            max(threshold - 0.15, 0.01).
        min_speech_duration_ms: spans shorter than this (before padding) are dropped.
        max_speech_duration_s: longer spans are cut at their last silence of over 98 ms, or
            hard at this length; inf never cuts.
        min_silence_duration_ms: silence this long ends a span; shorter gaps are bridged.
        speech_pad_ms: each span is widened by this much on both sides (halving the gap
            instead where two spans are closer than twice this).
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_duration_ms: int = 0
    max_speech_duration_s: float = float("inf")
    min_silence_duration_ms: int = 2000
    speech_pad_ms: int = 400

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError("threshold", self.threshold, "must be a probability in (0, 1)")
        if self.neg_threshold is not None and not 0.0 < self.neg_threshold <= self.threshold:
            raise ConfigError(
                "neg_threshold",
                self.neg_threshold,
                f"must be in (0, threshold={self.threshold}], or None for threshold - 0.15",
            )
        for name in ("min_speech_duration_ms", "min_silence_duration_ms", "speech_pad_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(name, value, "must be a whole number of milliseconds >= 0")
        # Below this, Silero's cut point (max minus one frame minus both pads) is <= 0 and every
        # span would be cut at its first frame.
        shortest_s = (FRAME_SAMPLES / SAMPLE_RATE_HZ) + 2 * self.speech_pad_ms / 1000
        if math.isnan(self.max_speech_duration_s) or self.max_speech_duration_s <= shortest_s:
            raise ConfigError(
                "max_speech_duration_s",
                self.max_speech_duration_s,
                f"must exceed one 32 ms frame plus twice speech_pad_ms ({shortest_s:g} s); "
                "inf never cuts",
            )


@dataclass(frozen=True)
class SpeechSpan:
    """One stretch of speech, padded, in seconds from the start of the audio."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class VadResult:
    """The spans one backend found in one clip, and what finding them cost.

    Attributes:
        backend: one of `BACKENDS`.
        spans: in time order, not overlapping.
        seconds: wall time of the `detect` call, in seconds; the first call of a backend in a
            process includes its imports and model load (see `warm_up`).
        audio_s: length of the audio, in seconds.
        config: the options the spans were found with.
    """

    backend: str
    spans: tuple[SpeechSpan, ...]
    seconds: float
    audio_s: float
    config: VadConfig = VadConfig()

    @property
    def speech_s(self) -> float:
        """Seconds of audio inside the spans (what a VAD gate passes on)."""
        return sum(s.duration_s for s in self.spans)

    @property
    def has_speech(self) -> bool:
        return bool(self.spans)

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of detection per second of audio."""
        return self.seconds / self.audio_s if self.audio_s > 0 else math.inf


def detect(
    samples: np.ndarray, config: VadConfig = VadConfig(), backend: str = "onnx"
) -> VadResult:
    """Find the speech in 16 kHz samples.

    Args:
        samples: shape (n_samples,), float32 in [-1, 1] or integer PCM, at `SAMPLE_RATE_HZ`.
        config: the options, applied identically by either backend.
        backend: one of `BACKENDS`.

    Raises:
        ConfigError: unknown backend.
        AudioError: samples `asrlab.audio.samples.validate` rejects (empty, not 1-D, non-finite, all
            zeros, ...).
    """
    run = _runner(backend)
    x = validate(samples)
    t0 = time.perf_counter()
    bounds = run(x, config)
    seconds = time.perf_counter() - t0
    spans = tuple(SpeechSpan(s / SAMPLE_RATE_HZ, e / SAMPLE_RATE_HZ) for s, e in bounds)
    return VadResult(backend, spans, seconds, len(x) / SAMPLE_RATE_HZ, config)


def warm_up(backend: str = "onnx") -> float:
    """Import and load `backend`'s model and score 1 s of near-silence; returns the seconds.

    What the first `detect` of a process would otherwise pay; nearly free once done.
    """
    run = _runner(backend)
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(round(_WARM_UP_S * SAMPLE_RATE_HZ)) * 1e-4).astype(np.float32)
    t0 = time.perf_counter()
    run(quiet, VadConfig())
    return time.perf_counter() - t0


def keep_speech(samples: np.ndarray, result: VadResult) -> np.ndarray:
    """The samples inside `result`'s spans, concatenated: what a VAD gate passes to decoding.

    Returns:
        shape (n_kept,), the dtype of `samples`; empty when there is no speech.

    Raises:
        ConfigError: `samples` is not as long as the audio `result` was found in.
    """
    x = np.asarray(samples)
    if abs(len(x) / SAMPLE_RATE_HZ - result.audio_s) > 0.5 / SAMPLE_RATE_HZ:
        raise ConfigError(
            "samples",
            f"{len(x)} samples",
            f"the result is for {result.audio_s:.4f} s of audio, these are "
            f"{len(x) / SAMPLE_RATE_HZ:.4f} s; pass the samples it was detected on",
        )
    pieces = [
        x[round(s.start_s * SAMPLE_RATE_HZ) : round(s.end_s * SAMPLE_RATE_HZ)] for s in result.spans
    ]
    return np.concatenate(pieces) if pieces else x[:0].copy()


@dataclass(frozen=True)
class Gated:
    """What a VAD gate passes on to decoding, and what it found.

    Attributes:
        samples: the audio to decode; None when the VAD found no speech (nothing is decoded).
        found: the detection the decision was made on.
    """

    samples: np.ndarray | None
    found: VadResult


def gate(
    samples: np.ndarray,
    *,
    trim: bool = True,
    config: VadConfig = VadConfig(),
    backend: str = "onnx",
) -> Gated:
    """The VAD gate the node, `asrlab.analysis.evaluate` and ``asrlab transcribe`` share: no
    speech, no decode; with speech, only its spans (`keep_speech`) when `trim`, else the whole
    clip. Trimming cuts the breath and the syllable edges Silero leaves outside its spans: on 120
    clean Mandarin utterances it cost about a point of CER (docs/results/remedies.md), while the
    decision alone (`trim=False`) decodes speech exactly as without the gate."""
    found = detect(samples, config, backend)
    if not found.has_speech:
        return Gated(None, found)
    return Gated(keep_speech(samples, found) if trim else samples, found)


def max_boundary_diff_s(a: VadResult, b: VadResult) -> float:
    """Largest difference, in seconds, between matching span starts and ends of two results.

    0.0 when neither has speech; inf when they hold different numbers of spans.
    """
    if len(a.spans) != len(b.spans):
        return math.inf
    return max(
        (
            max(abs(p.start_s - q.start_s), abs(p.end_s - q.end_s))
            for p, q in zip(a.spans, b.spans, strict=True)
        ),
        default=0.0,
    )


def frame_probs(samples: np.ndarray, backend: str = "onnx") -> np.ndarray:
    """Each 32 ms frame's speech probability, as `backend`'s model gives it.

    Returns:
        float32, shape (n_frames,); frame i covers samples [512 i, 512 (i + 1)). The onnx
        backend scores one more, all-padding, frame when n_samples is a multiple of 512, as
        faster-whisper does.
    """
    _runner(backend)
    x = validate(samples)
    if backend == "onnx":
        from faster_whisper.vad import get_vad_model

        padded = np.pad(x, (0, FRAME_SAMPLES - len(x) % FRAME_SAMPLES))
        return np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)
    import torch

    model = _silero_model(_TORCH_WEIGHTS[backend])
    tensor = torch.from_numpy(np.pad(x, (0, -len(x) % FRAME_SAMPLES)))
    with _torch_session():
        model.reset_states()
        probs = [model(frame, SAMPLE_RATE_HZ).item() for frame in tensor.split(FRAME_SAMPLES)]
    return np.asarray(probs, dtype=np.float32)


# --- backends -----------------------------------------------------------------------------------

Bounds = list[tuple[int, int]]  # (start, end) sample indices of each span
# The torch backends: which Silero weights each loads.
_TORCH_WEIGHTS = {"torch": "v6.0", "torch_v6.2": "v6.2"}


def _runner(backend: str) -> Callable[[np.ndarray, VadConfig], Bounds]:
    if backend == "onnx":
        return _detect_onnx
    if backend in _TORCH_WEIGHTS:
        return functools.partial(_detect_torch, weights=_TORCH_WEIGHTS[backend])
    raise ConfigError(
        "backend", backend, f"no such VAD backend; available: {', '.join(ALL_BACKENDS)}"
    )


def _faster_whisper_options(config: VadConfig) -> dict[str, Any]:
    """`config` as `faster_whisper.vad.VadOptions` keywords."""
    return {
        "threshold": config.threshold,
        "neg_threshold": config.neg_threshold,
        "min_speech_duration_ms": config.min_speech_duration_ms,
        "max_speech_duration_s": config.max_speech_duration_s,
        "min_silence_duration_ms": config.min_silence_duration_ms,
        "speech_pad_ms": config.speech_pad_ms,
    }


def _silero_kwargs(config: VadConfig) -> dict[str, Any]:
    """`config` as `silero_vad.get_speech_timestamps` keywords, faster-whisper's semantics."""
    return {
        **_faster_whisper_options(config),
        "sampling_rate": SAMPLE_RATE_HZ,
        "min_silence_at_max_speech": _MIN_SILENCE_AT_MAX_SPEECH_MS,
        # silero-vad >= 6 cuts an over-long span at its longest silence; faster-whisper 1.2.1
        # still cuts at the last one, which False selects.
        "use_max_poss_sil_at_max_speech": False,
    }


def _detect_onnx(x: np.ndarray, config: VadConfig) -> Bounds:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(x, VadOptions(**_faster_whisper_options(config)))
    return [(int(d["start"]), int(d["end"])) for d in found]


def _detect_torch(x: np.ndarray, config: VadConfig, weights: str) -> Bounds:
    import torch

    silero_vad, model = _import_silero_vad(), _silero_model(weights)
    # from_numpy shares memory and warns on read-only arrays; silero only reads it.
    tensor = torch.from_numpy(x if x.flags.writeable else x.copy())
    with _torch_session():
        found = silero_vad.get_speech_timestamps(tensor, model, **_silero_kwargs(config))
    return [(int(d["start"]), int(d["end"])) for d in found]


# The TorchScript model keeps its LSTM state between calls: one detection at a time.
_TORCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _torch_session() -> Iterator[None]:
    """Hold the model, run on `TORCH_THREADS` threads without autograd; restore the count.

    torch's thread count is process-wide: other torch work in this process shares the setting
    while a detection runs.
    """
    import torch

    with _TORCH_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(TORCH_THREADS)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(before)


@functools.cache
def _silero_model(weights: str) -> Any:
    """A Silero TorchScript model ("v6.0": the bundled file; "v6.2": silero-vad's), loaded once
    per process."""
    import torch

    silero_vad = _import_silero_vad()
    with warnings.catch_warnings():
        # importlib.resources.path and torch.jit.load deprecations inside silero-vad 6.2.3.
        warnings.simplefilter("ignore", DeprecationWarning)
        if weights == "v6.2":
            return silero_vad.load_silero_vad(onnx=False)
        # What silero-vad's own loader does with its file (init_jit_model).
        model = torch.jit.load(str(V60_JIT), map_location="cpu")
        model.eval()
        return model


@functools.cache
def _import_silero_vad() -> Any:
    """The silero_vad module, imported without its side effect on torch's thread count."""
    import torch

    # Importing silero_vad calls torch.set_num_threads(1) for the whole process; undo that.
    before = torch.get_num_threads()
    try:
        import silero_vad
    finally:
        torch.set_num_threads(before)
    return silero_vad
