"""Where a number came from: code version, package versions, hardware, model hash.

Every result the lab writes carries this, so a figure in a notebook can be traced back to the
exact software and machine that measured it (docs/design.md, "Reproducibility").
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

_PACKAGES = ("faster-whisper", "ctranslate2", "av", "numpy", "onnxruntime", "tokenizers")


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
        **{f"version_{k}": v for k, v in package_versions().items()},
        "cpu": cpu_model(),
        "gpu": gpu_model(),
        "python": platform.python_version(),
        **extra,
    }
