"""Shared fixtures: the embedded base model is loaded once per test session."""

from __future__ import annotations

import numpy as np
import pytest

from asrlab import audio, corpus
from asrlab.decoding import DecodeConfig, TracedModel, load_model, preset
from asrlab.trace import DecodeTrace

# The white noise `make reproduce` traces (asrlab.cli.INCIDENT_NOISE_SEED).
NOISE_SEED = 6
NOISE_S = 11.0


@pytest.fixture(scope="session")
def base_model() -> TracedModel:
    return load_model("base")


@pytest.fixture(scope="session")
def incident() -> DecodeConfig:
    return preset("incident")


@pytest.fixture(scope="session")
def noise() -> np.ndarray:
    """The incident-like clip: 11 s of seeded white noise (a 20 s+ decode at the preset)."""
    return audio.white_noise(NOISE_S, seed=NOISE_SEED)


@pytest.fixture(scope="session")
def noise_trace(base_model: TracedModel, incident: DecodeConfig, noise: np.ndarray) -> DecodeTrace:
    """The noise decoded in-process at the incident preset: the slow path (tens of seconds)."""
    return base_model.run(noise, incident)


@pytest.fixture(scope="session")
def jfk_trace(base_model: TracedModel, incident: DecodeConfig) -> DecodeTrace:
    return base_model.run(corpus.get("jfk").load(), incident)
