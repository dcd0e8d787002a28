"""Audio in: decode and validate into what Whisper consumes.

Every function returns float32, 1-D, mono, `SAMPLE_RATE_HZ` samples per second, nominally in
[-1, 1]. Bad input raises `AudioError` with a reason code and a message that says what to do, so it
never reaches a worker. Untrusted bytes are decoded in a throw-away child process
(`asrlab.audio.pyav_decode`).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from asrlab.audio import pyav_decode
from asrlab.errors import AudioError, ConfigError

SAMPLE_RATE_HZ = 16_000  # what Whisper's feature extractor expects
DEFAULT_MAX_DURATION_S = 4 * 3600.0  # 230.4 M samples, 0.92 GB of float32: a cap on memory


def decode(
    source: str | os.PathLike[str] | bytes | np.ndarray,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    isolate: bool = True,
    timeout_s: float = 60.0,
) -> np.ndarray:
    """Turn a path, encoded bytes or an array into validated float32 mono 16 kHz samples.

    Args:
        source: a file path, the bytes of an encoded file (any format FFmpeg reads), or samples
            (1-D, float in [-1, 1] or integer PCM, assumed to be at 16 kHz already).
        max_duration_s: longest audio accepted, in seconds; decoding stops past it.
        isolate: decode in a child process (PyAV can crash the process on broken streams).
            Pass False only for trusted files, such as the bundled corpus: it saves a process start.
        timeout_s: wall-clock limit of the child process, in seconds (ignored without `isolate`).

    Returns:
        float32 array of shape (n_samples,). A decoded file is bit-for-bit what
        `faster_whisper.decode_audio` returns for it.

    Raises:
        AudioError: see `asrlab.errors.AudioError` for the reason codes.
        ConfigError: `max_duration_s` or `timeout_s` is not a positive number.
    """
    _require_positive("max_duration_s", max_duration_s)
    _require_positive("timeout_s", timeout_s)
    if isinstance(source, np.ndarray):
        return validate(source, max_duration_s=max_duration_s)
    path, data, label = _read_source(source)
    max_samples = math.floor(max_duration_s * SAMPLE_RATE_HZ)
    if isolate:
        samples = _decode_in_child(
            path, data, max_samples=max_samples, timeout_s=timeout_s, label=label
        )
    else:
        pcm = pyav_decode.decode_pyav(
            path if path is not None else data or b"",
            max_samples=max_samples,
            rate_hz=SAMPLE_RATE_HZ,
            label=label,
        )
        samples = np.frombuffer(pcm, dtype=np.int16)
    # validate scales int16 by 1/32768, as faster-whisper's decode_audio does.
    return validate(samples, max_duration_s=max_duration_s, source=label)


def validate(
    samples: np.ndarray,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    source: str = "array",
) -> np.ndarray:
    """Check samples and return them as contiguous float32 (no copy when they already are).

    Integer PCM is scaled to [-1, 1): signed by 2**(bits-1), unsigned (8-bit WAV) around its
    midpoint. `source` only labels the error.

    Raises:
        AudioError: "empty", "bad_shape" (rank or dtype), "too_long", "non_finite" or "silent".
    """
    x = np.asarray(samples)
    if x.size == 0:
        raise AudioError("empty", f"no samples (shape {x.shape}): nothing to transcribe", source)
    if x.ndim != 1:
        raise AudioError("bad_shape", _shape_hint(x.shape), source)
    if x.dtype.kind not in "fiu":
        raise AudioError(
            "bad_shape",
            f"dtype {x.dtype} is not audio samples; pass float32 in [-1, 1] or integer PCM "
            "(int16, int32)",
            source,
        )
    if len(x) > max_duration_s * SAMPLE_RATE_HZ:  # before any conversion copies a huge array
        raise AudioError(
            "too_long",
            f"{len(x) / SAMPLE_RATE_HZ:.1f} s ({len(x)} samples at {SAMPLE_RATE_HZ} Hz) is longer "
            f"than the limit max_duration_s={max_duration_s:g} s; split the audio or raise "
            "max_duration_s",
            source,
        )
    x = _as_float32(x)
    finite = np.isfinite(x)
    if not finite.all():
        n_nan = int(np.isnan(x).sum())
        n_bad = len(x) - int(finite.sum())
        first = int(np.argmin(finite))
        raise AudioError(
            "non_finite",
            f"{n_bad} of {len(x)} samples are not finite ({n_nan} NaN, {n_bad - n_nan} Inf; "
            f"the first at sample {first}, {first / SAMPLE_RATE_HZ:.3f} s); fix whatever produced "
            "them, or replace them: np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)",
            source,
        )
    if not x.any():
        raise AudioError(
            "silent",
            f"all {len(x)} samples ({len(x) / SAMPLE_RATE_HZ:.2f} s) are exactly zero: there is "
            "nothing to transcribe; check the capture device, the channel, or the gain",
            source,
        )
    return x


def duration_s(samples: np.ndarray) -> float:
    """Length of 16 kHz samples in seconds (last axis)."""
    return np.shape(samples)[-1] / SAMPLE_RATE_HZ


def _decoder_argv() -> list[str]:
    """The child decoder's command, before its arguments; tests replace it to crash or hang."""
    return [sys.executable, "-m", "asrlab.audio.pyav_decode"]


def _read_source(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
) -> tuple[str | None, bytes | None, str]:
    """(path, None, label) for a file or (None, data, label) for bytes; checks they exist."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = f"{len(data)} bytes"
        if not data:
            raise AudioError("empty", "0 bytes given: nothing to decode", label)
        return None, data, label
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source must be a path, bytes or a numpy array, not {type(source).__name__}"
        )
    path = Path(source)
    if not path.exists():
        raise AudioError("not_found", f"no such file (cwd: {Path.cwd()})", str(path))
    if not path.is_file():
        raise AudioError("not_found", "exists but is not a regular file", str(path))
    if path.stat().st_size == 0:
        raise AudioError("empty", "the file is 0 bytes long: nothing to decode", str(path))
    return str(path), None, str(path)


def _decode_in_child(
    path: str | None, data: bytes | None, *, max_samples: int, timeout_s: float, label: str
) -> np.ndarray:
    argv = _decoder_argv() + pyav_decode.child_args(
        max_samples=max_samples, rate_hz=SAMPLE_RATE_HZ, path=path
    )
    # The child imports asrlab by name; make it find this very copy even when the caller put the
    # package on sys.path by hand.
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(
            argv, input=data or b"", capture_output=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise AudioError(
            "decoder_timeout",
            f"the decoder process did not finish within timeout_s={timeout_s:g} s and was "
            "killed; the stream may be pathological, or it is long and the machine slow: "
            "raise timeout_s",
            label,
        ) from None
    return _child_result(proc, label)


def _child_result(proc: subprocess.CompletedProcess[bytes], label: str) -> np.ndarray:
    """Samples from a finished child, or the AudioError its exit status stands for."""
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = "an unknown signal"
        raise AudioError(
            "decoder_crashed",
            f"the decoder process was killed by {name} (signal {-proc.returncode}); PyAV/FFmpeg "
            "probably crashed on a corrupt stream: re-encode it (ffmpeg -i IN -ac 1 -ar 16000 "
            "OUT.wav) or reject it",
            label,
        )
    if proc.returncode == pyav_decode.EXIT_AUDIO_ERROR:
        parsed = pyav_decode.parse_error_line(stderr)
        if parsed is not None:
            raise AudioError(parsed[0], parsed[1], label)
    if proc.returncode != 0 or len(proc.stdout) % pyav_decode.BYTES_PER_SAMPLE:
        last = stderr.strip().splitlines()[-1:] or ["no message"]
        raise AudioError(
            "decoder_crashed",
            f"the decoder process failed (exit status {proc.returncode}, {len(proc.stdout)} "
            f"bytes of output): {last[0]}",
            label,
        )
    return np.frombuffer(proc.stdout, dtype=np.int16)  # read-only, but validate converts it


def _shape_hint(shape: tuple[int, ...]) -> str:
    head = f"expected 1-D mono samples, got shape {shape}"
    if len(shape) == 0:
        return f"{head}: a scalar is not audio"
    if len(shape) == 2 and 1 in shape:
        return f"{head}; drop the unit axis: x.reshape(-1)"
    if len(shape) == 2:
        axis = int(np.argmin(shape))  # the shorter axis is almost always the channels
        return (
            f"{head}; if axis {axis} holds {shape[axis]} channels, average them: "
            f"x.mean(axis={axis})"
        )
    return f"{head}; a batch is not one recording: pass each item separately"


def _as_float32(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return np.ascontiguousarray(x, dtype=np.float32)
    full_scale = np.float32(2.0 ** (8 * x.dtype.itemsize - 1))
    if x.dtype.kind == "i":
        return x.astype(np.float32) / full_scale
    return (x.astype(np.float32) - full_scale) / full_scale


def _require_positive(name: str, value: float) -> None:
    try:
        ok = math.isfinite(value) and value > 0
    except TypeError:
        ok = False
    if not ok:
        raise ConfigError(name, value, "must be a finite number greater than 0")
