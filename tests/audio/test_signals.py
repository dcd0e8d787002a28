"""asrlab.audio.signals: the generators are exact and seeded; mixing and fitting keep their
promises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asrlab.audio.samples import SAMPLE_RATE_HZ, decode, validate
from asrlab.audio.signals import (
    fit_to_length,
    mix_at_snr,
    near_silence,
    pink_noise,
    reversed_speech,
    tone,
    white_noise,
)
from asrlab.errors import AudioError, ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "asrlab" / "data" / "audio"
SHORT_SPEECH = DATA_DIR / "en_librispeech_1089-134686-0001.wav"  # 3.275 s, 16 kHz mono
SR = SAMPLE_RATE_HZ


# --- generators -----------------------------------------------------------------------------------

SEEDED = {
    "white_noise": white_noise,
    "pink_noise": pink_noise,
    "near_silence": near_silence,
}
ALL_GENERATORS = {**SEEDED, "tone": tone}


@pytest.mark.parametrize("name", SEEDED)
def test_seeded_generators_are_deterministic(name: str) -> None:
    make = SEEDED[name]
    np.testing.assert_array_equal(make(1.0, seed=7), make(1.0, seed=7))
    assert not np.array_equal(make(1.0, seed=7), make(1.0, seed=8))


@pytest.mark.parametrize("name", ALL_GENERATORS)
@pytest.mark.parametrize("seconds", [0.01, 1.0, 2.3337, 30.0])
def test_generators_have_exact_length_and_pass_validation(name: str, seconds: float) -> None:
    x = ALL_GENERATORS[name](seconds)
    assert x.dtype == np.float32 and x.shape == (round(seconds * SR),)
    assert validate(x) is x


@pytest.mark.parametrize("name", ALL_GENERATORS)
@pytest.mark.parametrize("seconds", [0.0, -1.0, np.nan, 1e-6])
def test_generators_refuse_bad_durations(name: str, seconds: float) -> None:
    with pytest.raises(ConfigError, match="duration_s"):
        ALL_GENERATORS[name](seconds)


@pytest.mark.parametrize(
    ("name", "level_kw", "level"),
    [("white_noise", "std", 0.05), ("pink_noise", "rms", 0.2), ("near_silence", "rms", 1e-4)],
)
def test_noise_level(name: str, level_kw: str, level: float) -> None:
    x = SEEDED[name](5.0, **{level_kw: level}).astype(np.float64)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(level, rel=0.01)


def test_pink_noise_spectrum_slope_is_minus_one() -> None:
    x = pink_noise(20.0, seed=3)
    segment = 4096
    frames = x[: len(x) // segment * segment].reshape(-1, segment) * np.hanning(segment)
    psd = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    freqs_hz = np.fft.rfftfreq(segment, d=1.0 / SR)
    band = (freqs_hz >= 50) & (freqs_hz <= 7000)
    slope = np.polyfit(np.log10(freqs_hz[band]), np.log10(psd[band]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.2)


def test_tone_frequency_and_amplitude() -> None:
    x = tone(1.0, freq_hz=1000.0, amplitude=0.5)
    assert np.abs(x).max() == pytest.approx(0.5, rel=1e-3)
    assert np.argmax(np.abs(np.fft.rfft(x))) == 1000  # 1 Hz per bin over 1 s


def test_tone_refuses_frequency_above_nyquist() -> None:
    with pytest.raises(ConfigError, match="freq_hz"):
        tone(1.0, freq_hz=8000.0)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode(SHORT_SPEECH, isolate=False)


def test_reversed_speech(speech: np.ndarray) -> None:
    r = reversed_speech(speech)
    np.testing.assert_array_equal(r, speech[::-1])
    assert r.flags.c_contiguous


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
@pytest.mark.parametrize("noise_s", [1.0, 10.0], ids=["looped_noise", "trimmed_noise"])
def test_mix_at_snr(speech: np.ndarray, snr_db: float, noise_s: float) -> None:
    mix = mix_at_snr(speech, white_noise(noise_s, seed=1), snr_db)
    assert mix.dtype == np.float32 and mix.shape == speech.shape
    assert np.abs(mix).max() <= 1.0
    noise = mix.astype(np.float64) - speech
    measured_db = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise**2))
    assert measured_db == pytest.approx(snr_db, abs=0.1)


def test_mix_at_snr_clips_only_when_needed() -> None:
    loud = tone(1.0, amplitude=0.9)
    mix = mix_at_snr(loud, white_noise(1.0), snr_db=-10.0)
    assert np.abs(mix).max() == 1.0


def test_mix_at_snr_refuses_silent_noise(speech: np.ndarray) -> None:
    with pytest.raises(AudioError) as info:
        mix_at_snr(speech, np.zeros(100, dtype=np.float32), 10.0)
    assert info.value.reason == "silent" and info.value.source == "noise"


@pytest.mark.parametrize("mode", ["loop", "pad"])
@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.5, 7.00003])
def test_fit_to_length(mode: str, seconds: float) -> None:
    x = tone(1.0, freq_hz=3.0)
    y = fit_to_length(x, seconds, mode=mode)  # type: ignore[arg-type]
    n = round(seconds * SR)
    assert y.dtype == np.float32 and y.shape == (n,)
    keep = min(n, len(x))
    np.testing.assert_array_equal(y[:keep], x[:keep])
    if n > len(x):
        tail = y[len(x) :]
        expected = np.resize(x, n)[len(x) :] if mode == "loop" else np.zeros_like(tail)
        np.testing.assert_array_equal(tail, expected)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"duration_s": -1.0}, "duration_s"), ({"duration_s": 1.0, "mode": "stretch"}, "mode")],
)
def test_fit_to_length_bad_arguments(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        fit_to_length(tone(0.5), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
