"""Seeded stress signals and the ways the lab turns clips into harder audio.

Noise, tones and near silence climb (or do not climb) Whisper's temperature-fallback ladder; speech
mixed with noise at a given SNR, reversed, or fitted to a length makes the classes the sweeps use.
All in the `asrlab.audio.samples` format: float32 mono 16 kHz.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from asrlab.audio.samples import SAMPLE_RATE_HZ, _require_positive, validate
from asrlab.errors import ConfigError


def white_noise(duration_s: float, *, seed: int = 0, std: float = 0.1) -> np.ndarray:
    """Gaussian white noise: `duration_s` seconds, standard deviation `std` (full scale 1)."""
    _require_positive("std", std)
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(_n_samples(duration_s)) * std).astype(np.float32)


def pink_noise(duration_s: float, *, seed: int = 0, rms: float = 0.1) -> np.ndarray:
    """Noise with a 1/f power spectrum (-10 dB per decade), scaled to an RMS of `rms`.

    White Gaussian noise is shaped in the frequency domain by 1/sqrt(f); the DC bin is zeroed.
    """
    _require_positive("rms", rms)
    n = _n_samples(duration_s)
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs_hz = np.fft.rfftfreq(n, d=1.0 / SAMPLE_RATE_HZ)
    gain = np.zeros_like(freqs_hz)
    gain[1:] = 1.0 / np.sqrt(freqs_hz[1:])
    x = np.fft.irfft(spectrum * gain, n=n)
    power = float(np.mean(x**2))
    if power == 0.0:
        raise ConfigError("duration_s", duration_s, "too short to hold any pink noise")
    return (x * (rms / math.sqrt(power))).astype(np.float32)


def tone(duration_s: float, *, freq_hz: float = 440.0, amplitude: float = 0.3) -> np.ndarray:
    """A sine of `freq_hz` (below the 8 kHz Nyquist limit) and peak `amplitude`, starting at 0."""
    _require_positive("amplitude", amplitude)
    if not 0 < freq_hz < SAMPLE_RATE_HZ / 2:
        raise ConfigError("freq_hz", freq_hz, f"must be in (0, {SAMPLE_RATE_HZ // 2}) Hz")
    t_s = np.arange(_n_samples(duration_s)) / SAMPLE_RATE_HZ
    return (amplitude * np.sin(2 * np.pi * freq_hz * t_s)).astype(np.float32)


def near_silence(duration_s: float, *, seed: int = 0, rms: float = 1e-4) -> np.ndarray:
    """Very quiet white noise (-80 dBFS at the default): nearly silent, yet passes `validate`."""
    x = white_noise(duration_s, seed=seed, std=1.0)
    return (x * (rms / math.sqrt(float(np.mean(x.astype(np.float64) ** 2))))).astype(np.float32)


def reversed_speech(samples: np.ndarray) -> np.ndarray:
    """The samples played backwards: speech-like spectrum and rhythm, no words."""
    return np.ascontiguousarray(validate(samples)[::-1])


def babble(talkers: Sequence[np.ndarray], duration_s: float) -> np.ndarray:
    """Several talkers at once, each at the same loudness (RMS), looped to ``duration_s``: the
    noise of a room of people, which unlike pink noise is itself speech-like.

    Raises:
        ConfigError: fewer than two talkers, or a silent one.
    """
    if len(talkers) < 2:
        raise ConfigError("talkers", len(talkers), "babble needs at least two talkers")
    n = _n_samples(duration_s)
    mix = np.zeros(n, dtype=np.float64)
    for i, talker in enumerate(talkers):
        x = _fit_samples(validate(talker, source=f"talker {i}"), n, "loop").astype(np.float64)
        rms = math.sqrt(float(np.mean(x**2)))
        if rms == 0.0:
            raise ConfigError("talkers", i, "a silent talker adds nothing to babble")
        mix += x / rms
    mix *= 0.1 / math.sqrt(float(np.mean(mix**2)))  # -20 dBFS, as the generators' noise
    return np.clip(mix, -1.0, 1.0).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`speech` plus `noise` scaled so that 10*log10(P_speech / P_noise) == `snr_db`.

    Powers are mean squares over the whole of each signal. The noise is looped or trimmed to the
    speech length. The mixture is clipped to [-1, 1] only if it exceeds that range, which then
    lowers the SNR a little.
    """
    if not math.isfinite(snr_db):
        raise ConfigError("snr_db", snr_db, "must be a finite number of dB")
    s = validate(speech, source="speech")
    n = _fit_samples(validate(noise, source="noise"), len(s), "loop")
    p_speech = float(np.mean(s.astype(np.float64) ** 2))
    p_noise = float(np.mean(n.astype(np.float64) ** 2))
    scale = math.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    mix = s.astype(np.float64) + scale * n
    if np.abs(mix).max() > 1.0:
        np.clip(mix, -1.0, 1.0, out=mix)
    return mix.astype(np.float32)


def fit_to_length(
    samples: np.ndarray, duration_s: float, *, mode: Literal["loop", "pad"] = "loop"
) -> np.ndarray:
    """Exactly round(duration_s * 16000) samples: trimmed, or extended by looping or zero-padding.

    Raises:
        ConfigError: for a non-positive duration or an unknown `mode`.
    """
    if mode not in ("loop", "pad"):
        raise ConfigError("mode", mode, "must be 'loop' or 'pad'")
    return _fit_samples(validate(samples), _n_samples(duration_s), mode)


def _fit_samples(x: np.ndarray, n: int, mode: str) -> np.ndarray:
    if mode == "loop":
        return np.resize(x, n)  # np.resize repeats the array cyclically
    out = np.zeros(n, dtype=np.float32)
    keep = min(n, len(x))
    out[:keep] = x[:keep]
    return out


def _n_samples(duration_s: float) -> int:
    _require_positive("duration_s", duration_s)
    n = round(duration_s * SAMPLE_RATE_HZ)
    if n == 0:
        raise ConfigError("duration_s", duration_s, "is shorter than one sample at 16 kHz")
    return n
