"""Device usage samplers for the lease arbiter: how busy is the device, 0..1?

CUDA through NVML or torch where a GPU is present; the worker process's CPU use on a CPU-only
machine; a scripted sequence in tests. Heavy imports happen only inside the sampler that needs
them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class UsageSampler(Protocol):
    """Something that reports how busy the device is: ``sample()`` in 0..1."""

    def sample(self) -> float: ...


class ScriptedUsage:
    """Usage read from a list (tests, simulations): holds the last value, or cycles."""

    def __init__(self, values: Sequence[float], *, cycle: bool = False) -> None:
        if not values or not all(0 <= v <= 1 for v in values):
            raise ValueError(f"ScriptedUsage needs values in [0, 1], got {list(values)}")
        self._values = list(values)
        self._cycle = cycle
        self._i = 0

    def sample(self) -> float:
        n = len(self._values)
        value = self._values[self._i % n if self._cycle else min(self._i, n - 1)]
        self._i += 1
        return value


class ProcessCpuUsage:
    """CPU use of one process since the previous sample, as a share of all cores (0..1)."""

    def __init__(self, pid: int | None = None) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self._cores = psutil.cpu_count() or 1
        self._process.cpu_percent(interval=None)  # the first call only starts the measurement

    def sample(self) -> float:
        # psutil counts 100 % per busy core.
        return min(1.0, self._process.cpu_percent(interval=None) / 100.0 / self._cores)


class TorchCudaUsage:
    """GPU utilisation through ``torch.cuda.utilization`` (which itself needs NVML)."""

    def __init__(self, device: int = 0) -> None:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("TorchCudaUsage: torch sees no CUDA GPU; use ProcessCpuUsage")
        self._cuda, self._device = torch.cuda, device
        try:
            self.sample()  # torch reads utilisation through NVML: fail here, not in an acquire
        except Exception as e:
            raise RuntimeError(f"TorchCudaUsage: torch.cuda.utilization failed: {e}") from e

    def sample(self) -> float:
        return self._cuda.utilization(self._device) / 100.0


class NvmlUsage:
    """GPU utilisation from NVML (``pip install nvidia-ml-py``)."""

    def __init__(self, index: int = 0) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as e:  # ImportError, or NVMLError without a driver or a GPU
            raise RuntimeError(f"NvmlUsage: no NVML ({e}); pip install nvidia-ml-py") from e
        self._nvml = pynvml

    def sample(self) -> float:
        return self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu / 100.0


class WorkersCpuUsage:
    """CPU use of a worker manager's live workers (found anew at each sample: a respawned
    worker has a new pid), as a share of all cores (0..1)."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        import psutil

        self._pids = pids
        self._cores = psutil.cpu_count() or 1
        self._procs: dict[int, Any] = {}
        self._psutil = psutil

    def sample(self) -> float:
        busy = 0.0
        live = set(self._pids())
        self._procs = {pid: p for pid, p in self._procs.items() if pid in live}
        for pid in live:
            try:
                if pid not in self._procs:
                    self._procs[pid] = self._psutil.Process(pid)
                    self._procs[pid].cpu_percent(interval=None)  # starts the measurement
                    continue
                busy += self._procs[pid].cpu_percent(interval=None)
            except self._psutil.Error:  # it died between the listing and the sample
                self._procs.pop(pid, None)
        return min(1.0, busy / 100.0 / self._cores)


# `ServiceSettings.usage`: what the arbiter samples. "off" is the incident's arbiter as the replay
# runs it (its refusals came from the overdue lease); "auto" the GPU where there is one, else the
# workers' CPU; "scripted:0.2,0.95" a fixed sequence (tests).
USAGE_SOURCES = ("off", "auto", "nvml", "torch", "cpu")


def sampler_for(source: str, worker_pids: Callable[[], list[int]]) -> UsageSampler | None:
    """The sampler ``source`` names (`USAGE_SOURCES`, or ``scripted:v1,v2,...``); None: off.

    Raises:
        ValueError: an unknown source, or a GPU sampler named where there is no GPU.
    """
    if source == "off":
        return None
    if source.startswith("scripted:"):
        return ScriptedUsage([float(v) for v in source.removeprefix("scripted:").split(",")])
    if source == "auto":
        with contextlib.suppress(RuntimeError, ImportError):
            return NvmlUsage()
        with contextlib.suppress(RuntimeError, ImportError):
            return TorchCudaUsage()
        return WorkersCpuUsage(worker_pids)
    makers: dict[str, Callable[[], UsageSampler]] = {
        "nvml": NvmlUsage,
        "torch": TorchCudaUsage,
        "cpu": lambda: WorkersCpuUsage(worker_pids),
    }
    if source not in makers:
        raise ValueError(f"usage source {source!r}: one of {USAGE_SOURCES} or scripted:v1,v2")
    return makers[source]()


def default_sampler(pid: int | None = None) -> UsageSampler:
    """NVML if it answers, else torch CUDA, else the CPU use of process ``pid`` (default: this)."""
    for gpu in (NvmlUsage, TorchCudaUsage):
        with contextlib.suppress(RuntimeError, ImportError):
            return gpu()
    return ProcessCpuUsage(pid)
