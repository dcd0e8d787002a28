"""asrlab.audio.samples: every kind of bad input gets its reason, in the child and in process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import asrlab.audio.samples as audio_samples
from asrlab.audio.pyav_decode import collect
from asrlab.audio.samples import SAMPLE_RATE_HZ, decode, duration_s, validate
from asrlab.audio.signals import (
    tone,
    white_noise,
)
from asrlab.errors import AudioError, ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "asrlab" / "data" / "audio"
JFK = DATA_DIR / "jfk.flac"  # 11.0 s, 44.1 kHz stereo, 24-bit FLAC
SHORT_SPEECH = DATA_DIR / "en_librispeech_1089-134686-0001.wav"  # 3.275 s, 16 kHz mono
TIMEOUT_S = 30.0  # generous for a loaded CI machine; a healthy isolated decode takes ~0.2 s
BOTH_WAYS = pytest.mark.parametrize("isolate", [True, False], ids=["isolated", "in_process"])


def reason_of(source: object, **kwargs: object) -> str:
    with pytest.raises(AudioError) as info:
        decode(source, timeout_s=TIMEOUT_S, **kwargs)  # type: ignore[arg-type]
    assert str(info.value)  # every error says something
    return info.value.reason


# --- bad files and bytes --------------------------------------------------------------------------


@BOTH_WAYS
def test_empty_file(tmp_path: Path, isolate: bool) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert reason_of(path, isolate=isolate) == "empty"


def test_empty_bytes() -> None:
    assert reason_of(b"") == "empty"


@BOTH_WAYS
def test_random_bytes(isolate: bool) -> None:
    data = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    assert reason_of(data, isolate=isolate) == "undecodable"


@BOTH_WAYS
@pytest.mark.parametrize(
    "text",
    [
        "hello, this is a text file and not audio\n",
        # FFmpeg reads many lines as a 'tty' video stream: no audio stream
        "line\n" * 500,
    ],
    ids=["one_line", "many_lines"],
)
def test_text_file(tmp_path: Path, text: str, isolate: bool) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(text)
    assert reason_of(path, isolate=isolate) == "undecodable"


@BOTH_WAYS
@pytest.mark.parametrize(
    "name",
    ["jfk.flac", "en_librispeech_2412-153948-0000.flac", "en_librispeech_1995-1837-0001.wav"],
)
def test_truncated_file(tmp_path: Path, name: str, isolate: bool) -> None:
    data = (DATA_DIR / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) * 40 // 100])
    with pytest.raises(AudioError) as info:
        decode(path, isolate=isolate, timeout_s=TIMEOUT_S)
    assert info.value.reason == "truncated"
    assert "declares" in str(info.value) and "decoded" in str(info.value)


def test_nonexistent_path(tmp_path: Path) -> None:
    assert reason_of(tmp_path / "missing.wav") == "not_found"


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    assert reason_of(tmp_path) == "not_found"


@BOTH_WAYS
def test_stereo_44k_is_accepted_and_converted(isolate: bool) -> None:
    x = decode(JFK, isolate=isolate, timeout_s=TIMEOUT_S)
    assert x.dtype == np.float32 and x.ndim == 1
    assert duration_s(x) == pytest.approx(11.0, abs=0.05)
    assert x.flags.writeable  # callers may normalise in place


def test_bytes_and_path_decode_the_same() -> None:
    from_bytes = decode(JFK.read_bytes(), timeout_s=TIMEOUT_S)
    np.testing.assert_array_equal(from_bytes, decode(JFK, isolate=False))


@pytest.mark.parametrize("name", ["jfk.flac", "multilingual.mp3", "zh_paddlespeech_zh.wav"])
def test_decode_matches_faster_whisper_bit_for_bit(name: str) -> None:
    # The lab must hear what the production service heard.
    fw_audio = pytest.importorskip("faster_whisper.audio")
    expected = fw_audio.decode_audio(str(DATA_DIR / name), sampling_rate=SAMPLE_RATE_HZ)
    np.testing.assert_array_equal(decode(DATA_DIR / name, isolate=False), expected)


@BOTH_WAYS
def test_stream_longer_than_limit(isolate: bool) -> None:
    with pytest.raises(AudioError) as info:
        decode(JFK.read_bytes(), max_duration_s=2.0, isolate=isolate, timeout_s=TIMEOUT_S)
    assert info.value.reason == "too_long"
    assert "max_duration_s=2" in str(info.value)


def test_collect_stops_early_on_an_endless_stream() -> None:
    consumed = 0

    def endless() -> object:
        nonlocal consumed
        while True:
            consumed += 1
            yield bytes(2 * 1000)  # 1000 s16 samples

    with pytest.raises(AudioError) as info:
        collect(endless(), max_samples=5000, rate_hz=1000)  # type: ignore[arg-type]
    assert info.value.reason == "too_long"
    assert consumed == 6  # the first chunk past the limit, and not one more


# --- the child process --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child_code", "reason", "expected_text"),
    [
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "decoder_crashed", "SIGSEGV"),
        ("import sys; sys.stderr.write('boom\\n'); sys.exit(7)", "decoder_crashed", "status 7"),
        ("import sys; sys.stdout.write('abc')", "decoder_crashed", "3 bytes"),  # odd: not s16
        ("import sys; sys.stderr.write('silent\\tall zero\\n'); sys.exit(3)", "silent", "all zero"),
    ],
    ids=["segfault", "exit_7", "garbled_output", "error_line"],
)
def test_child_failure_maps_to_reason(
    monkeypatch: pytest.MonkeyPatch, child_code: str, reason: str, expected_text: str
) -> None:
    monkeypatch.setattr(audio_samples, "_decoder_argv", lambda: [sys.executable, "-c", child_code])
    with pytest.raises(AudioError) as info:
        decode(JFK, timeout_s=TIMEOUT_S)
    assert info.value.reason == reason
    assert expected_text in str(info.value)
    assert info.value.source == str(JFK)


def test_caller_survives_a_segfaulting_child(monkeypatch: pytest.MonkeyPatch) -> None:
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    with monkeypatch.context() as m:
        m.setattr(audio_samples, "_decoder_argv", lambda: [sys.executable, "-c", crash])
        assert reason_of(JFK.read_bytes()) == "decoder_crashed"
    assert len(decode(JFK, timeout_s=TIMEOUT_S)) == 176_000  # and decodes the next job


HANG = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_hanging_child_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_samples, "_decoder_argv", lambda: HANG)
    with pytest.raises(AudioError) as info:
        decode(JFK, timeout_s=0.1)
    assert info.value.reason == "decoder_timeout" and "timeout_s=0.1 s" in str(info.value)


@pytest.mark.slow  # waits on the wall clock for the deadline it asserts
def test_hanging_child_is_given_up_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_samples, "_decoder_argv", lambda: HANG)
    start = time.monotonic()
    with pytest.raises(AudioError):
        decode(JFK, timeout_s=1.0)
    assert time.monotonic() - start < 2.0


def test_child_imports_no_model_code() -> None:
    # numpy too: the child does without it, which saves ~0.1 s on every isolated decode.
    heavy = {"faster_whisper", "ctranslate2", "torch", "onnxruntime", "numpy", "pandas"}
    code = (
        "import sys, asrlab.audio.pyav_decode, av; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT_S,
        env=env,
    )
    assert out.stdout.strip() == "[]"


# --- arrays -------------------------------------------------------------------------------------

SR = SAMPLE_RATE_HZ


@pytest.mark.parametrize(
    ("samples", "reason", "expected_text"),
    [
        pytest.param(np.zeros(0, dtype=np.float32), "empty", "no samples", id="zero_length"),
        pytest.param(np.full(SR, np.nan), "non_finite", f"{SR} of {SR} samples", id="nan"),
        pytest.param(np.r_[np.zeros(10), np.inf, 0.1, -np.inf], "non_finite", "2 Inf", id="inf"),
        pytest.param(np.zeros(SR, dtype=np.float32), "silent", "exactly zero", id="all_zero"),
        pytest.param(np.full(SR, 128, dtype=np.uint8), "silent", "zero", id="uint8_midpoint"),
        pytest.param(np.ones((2, SR)), "bad_shape", "x.mean(axis=0)", id="channels_first"),
        pytest.param(np.ones((SR, 2)), "bad_shape", "x.mean(axis=1)", id="channels_last"),
        pytest.param(np.ones((1, SR)), "bad_shape", "reshape(-1)", id="unit_axis"),
        pytest.param(np.ones((2, 2, SR)), "bad_shape", "shape (2, 2, 16000)", id="batch"),
        pytest.param(np.ones(SR, dtype=bool), "bad_shape", "dtype bool", id="bool"),
        pytest.param(np.ones(SR, dtype=np.complex64), "bad_shape", "complex64", id="complex"),
        pytest.param(np.full(3 * SR + 1, 0.1), "too_long", "max_duration_s=3", id="absurd_length"),
    ],
)
def test_bad_array(samples: np.ndarray, reason: str, expected_text: str) -> None:
    with pytest.raises(AudioError) as info:
        decode(samples, max_duration_s=3.0)
    assert info.value.reason == reason
    assert expected_text in str(info.value)


def test_limit_is_inclusive() -> None:
    assert len(validate(np.full(3 * SR, 0.1), max_duration_s=3.0)) == 3 * SR


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (np.array([-32768, 0, 16384], dtype=np.int16), [-1.0, 0.0, 0.5]),
        (np.array([-(2**31), 2**30], dtype=np.int32), [-1.0, 0.5]),
        (np.array([0, 128, 192], dtype=np.uint8), [-1.0, 0.0, 0.5]),
        (np.array([-0.5, 0.25], dtype=np.float64), [-0.5, 0.25]),
    ],
    ids=["int16", "int32", "uint8", "float64"],
)
def test_pcm_is_scaled_to_float32(samples: np.ndarray, expected: list[float]) -> None:
    x = validate(samples)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, np.array(expected, dtype=np.float32))


def test_valid_float32_is_not_copied() -> None:
    x = white_noise(0.1)
    assert validate(x) is x


@pytest.mark.parametrize(
    "kwargs",
    [{"max_duration_s": 0}, {"max_duration_s": -1.0}, {"timeout_s": 0}, {"timeout_s": np.inf}],
)
def test_bad_decode_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        decode(tone(0.1), **kwargs)  # type: ignore[arg-type]


def test_duration_s() -> None:
    assert duration_s(np.zeros(24_000, dtype=np.float32)) == 1.5
