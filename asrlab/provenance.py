"""Where a number came from: code version, package versions, hardware, model hash.

Every result the lab writes carries this, so a figure in a notebook can be traced back to the
exact software and machine that measured it (docs/design.md, "Reproducibility").
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

_PACKAGES = ("faster-whisper", "ctranslate2", "av", "numpy", "onnxruntime", "tokenizers", "torch")
_PACKAGE_ROOT = Path(__file__).resolve().parent
# What a result may depend on inside the package: its code and its bundled tables.
_SOURCE_SUFFIXES = (".py", ".csv", ".json", ".yaml")


@functools.cache
def code_version() -> str:
    """``git describe`` of the checkout asrlab runs from, else the installed package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return importlib.metadata.version("asrlab")


def source_hash(root: Path | None = None) -> str:
    """sha256 over the asrlab package this process imports: every source file and bundled table,
    by relative path and content (the audio is left out: it is named by its manifest's hashes).

    ``git describe --dirty`` cannot tell one dirty tree from another edit of it, and an installed
    copy has no git at all; this changes whenever a byte of the code does. Not cached: a long
    process (a notebook kernel) that edits the tree sees the change.
    """
    base = root or _PACKAGE_ROOT
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.suffix in _SOURCE_SUFFIXES):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def fingerprint() -> dict[str, Any]:
    """What decides a cached result besides its notebook and parameters: the code (its version
    and `source_hash`), the versions of the packages that decode, the CPU and the GPU."""
    return {
        "code_version": code_version(),
        "source_hash": source_hash(),
        "packages": package_versions(),
        "cpu": cpu_model(),
        "gpu": gpu_model(),
    }


@functools.cache
def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model() -> str | None:
    """Name of GPU 0 if torch sees one (torch is imported only when CTranslate2 sees a GPU)."""
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        return None
    try:
        import torch

        return str(torch.cuda.get_device_name(0))
    except Exception:  # torch missing or built without CUDA: the count is still known
        return f"{ctranslate2.get_cuda_device_count()} CUDA device(s)"


def record(**extra: Any) -> dict[str, Any]:
    """A flat provenance dict to merge into a result row."""
    return {
        "code_version": code_version(),
        "source_hash": source_hash(),
        **{f"version_{k}": v for k, v in package_versions().items()},
        "cpu": cpu_model(),
        "gpu": gpu_model(),
        "python": platform.python_version(),
        **extra,
    }
