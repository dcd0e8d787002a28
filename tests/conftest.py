"""Shared fixtures: the embedded base model is loaded once per test session."""

from __future__ import annotations

import pytest

from asrlab import audio, corpus
from asrlab.decoding import DecodeConfig, TracedModel, load_model, preset
from asrlab.trace import DecodeTrace

# Noise seed 1 with sampler seed 0 reproduces INCIDENT.md's full fallback ladder (asrlab.cli).
NOISE_SEED = 1
NOISE_S = 11.0


@pytest.fixture(scope="session")
def base_model() -> TracedModel:
    return load_model("base")


@pytest.fixture(scope="session")
def incident() -> DecodeConfig:
    return preset("incident")


@pytest.fixture(scope="session")
def noise_trace(base_model: TracedModel, incident: DecodeConfig) -> DecodeTrace:
    """11 s of seeded white noise at the incident preset: the slow path (tens of seconds)."""
    return base_model.run(audio.white_noise(NOISE_S, seed=NOISE_SEED), incident)


@pytest.fixture(scope="session")
def jfk_trace(base_model: TracedModel, incident: DecodeConfig) -> DecodeTrace:
    return base_model.run(corpus.get("jfk").load(), incident)
