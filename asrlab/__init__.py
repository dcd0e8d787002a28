"""asrlab: rebuild a faster-whisper ASR service from real parts and measure why it misbehaves.

Importing the package is cheap: faster-whisper, CTranslate2 and pandas load on first use of a name
that needs them, so ``import asrlab`` in a notebook or a worker costs milliseconds.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from asrlab.errors import (
    AsrlabError,
    AsrTimeout,
    AudioError,
    ConfigError,
    JobFailed,
    ModelIntegrityError,
    ModelNotFound,
    WorkerCrashed,
)

__version__ = "0.1.0"

# name -> module that defines it; loaded on first access.
_LAZY = {
    "DecodeConfig": "asrlab.decoding.options",
    "TracedModel": "asrlab.decoding.decoder",
    "load_model": "asrlab.decoding.decoder",
    "preset": "asrlab.decoding.options",
    "DecodeTrace": "asrlab.decoding.trace",
    "resolve": "asrlab.decoding.models",
    "decode": "asrlab.audio.samples",
    "corpus": "asrlab.audio.corpus",
    "WorkerConfig": "asrlab.service.worker",
    "WorkerManager": "asrlab.service.manager",
}

__all__ = [
    "AsrTimeout",
    "AsrlabError",
    "AudioError",
    "ConfigError",
    "DecodeConfig",
    "DecodeTrace",
    "JobFailed",
    "ModelIntegrityError",
    "ModelNotFound",
    "TracedModel",
    "WorkerConfig",
    "WorkerCrashed",
    "WorkerManager",
    "__version__",
    "corpus",
    "decode",
    "load_model",
    "preset",
    "resolve",
]

if TYPE_CHECKING:
    from asrlab.audio import corpus
    from asrlab.audio.samples import decode
    from asrlab.decoding.decoder import TracedModel, load_model
    from asrlab.decoding.models import resolve
    from asrlab.decoding.options import DecodeConfig, preset
    from asrlab.decoding.trace import DecodeTrace
    from asrlab.service.manager import WorkerManager
    from asrlab.service.worker import WorkerConfig


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'asrlab' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith(f".{name}") else getattr(mod, name)  # a module, or a name in one
    globals()[name] = value
    return value
