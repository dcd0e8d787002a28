"""Capacity questions for the simulator, and the check that earns it the right to answer them.

benchmarks/sim_validation.py runs real workloads (light, near capacity, overloaded), `recheck`
simulates each again from its own config and `check` compares success rate and p95 latency;
`grid` sweeps arrival rate x ASR timeout; `devices_needed` finds the fewest devices that meet a
latency and success target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from asrlab.errors import ConfigError
from asrlab.sim.core import SimConfig, simulate, simulate_summary
from asrlab.sim.costs import Sampler
from asrlab.workload.attribution import summarize
from asrlab.workload.traffic import WorkloadConfig

# The lab's own check (benchmarks/sim_validation.py), committed with the table it drew from.
VALIDATION = Path(__file__).resolve().parents[1] / "data" / "sim_validation.csv"
SUCCESS_POINTS = 5.0  # the bar: success rate within 5 percentage points
P95_SHARE = 0.15  # and p95 latency within 15 %


def check(real: pd.DataFrame, simulated: Sequence[pd.DataFrame]) -> dict[str, Any]:
    """Success rate and p95 latency of a real workload's rows against its simulations'.

    ``simulated`` are replications of the same workload (same arrivals and mix, costs drawn
    anew: `SimConfig.draw_seed`); the model's prediction is their median, and their range says
    how much the draws alone move it.
    """
    a = summarize(real)
    lines = [summarize(frame) for frame in simulated]
    if not lines:
        raise ConfigError("simulated", 0, "need at least one simulation")
    successes = [b["success_rate"] for b in lines]
    success = float(np.median(successes))
    p95s = [b["latency_p95_s"] for b in lines]
    p95 = float(np.median(p95s))
    points = 100.0 * (success - a["success_rate"])
    share = p95 / a["latency_p95_s"] - 1.0 if a["latency_p95_s"] else math.nan
    return {
        "remedy": a["remedy"],
        "n_jobs": a["n_jobs"],
        "success_real": a["success_rate"],
        "success_sim": success,
        "success_sim_min": min(successes),
        "success_sim_max": max(successes),
        "success_diff_points": points,
        "p95_real_s": a["latency_p95_s"],
        "p95_real_low_s": a["latency_p95_low_s"],
        "p95_real_high_s": a["latency_p95_high_s"],
        "p95_sim_s": p95,
        "p95_sim_min_s": min(p95s),
        "p95_sim_max_s": max(p95s),
        "replications": len(lines),
        "p95_diff": share,
        # (1e-9: 4/80 jobs is 5.000000000000001 points in floating point)
        "within": abs(points) <= SUCCESS_POINTS + 1e-9 and abs(share) <= P95_SHARE + 1e-9,
    }


LOADS = {"light": 0.3, "near capacity": 0.85, "overloaded": 1.6}  # x the service's capacity


def capacity_per_min(config: WorkloadConfig, table: pd.DataFrame, devices: int = 1) -> float:
    """Jobs per minute the devices' workers can take: 60 s / the mix's mean worker seconds.

    The mean is over the measured rows of each mix item, weighted as the mix weights them (a
    job the VAD gate answers costs its worker nothing). Deadlines cut real service shorter, so
    this is the rate at which the workers would be busy all the time with no timeouts at all.
    """
    remedy = config.effective_remedy()
    sampler = Sampler(
        table,
        model=config.model,
        compute_type=config.compute_type,
        decode_hash=remedy.decode.config_hash(),
        gate=remedy.vad_gate,
    )
    rng = np.random.default_rng(0)
    total = sum(m.weight for m in config.mix)
    mean_s = 0.0
    for item in config.mix:
        draw = sampler.draw(item.source, item.length_s, 2000, rng)
        mean_s += item.weight / total * float(np.nan_to_num(draw.service_s, nan=0.0).mean())
    return 60.0 * devices / mean_s


def validation_workloads(
    base: WorkloadConfig, remedies: Sequence[str], table: pd.DataFrame, n_jobs: int, seed: int
) -> dict[str, WorkloadConfig]:
    """Per remedy, the three `LOADS` as real workloads: the rate is that share of the remedy's
    own `capacity_per_min` on the measured ``table``."""
    out = {}
    for name in remedies:
        config = replace(base, remedy=name, n_jobs=n_jobs, seed=seed)
        capacity = capacity_per_min(config, table)
        for load_name, share in LOADS.items():
            rate = round(share * capacity, 1)
            out[f"{name} / {load_name}"] = replace(config, rate_per_min=rate)
    return out


def config_of(rows: pd.DataFrame) -> WorkloadConfig:
    """The `WorkloadConfig` a real workload's rows were run with (their ``workload_*`` columns)."""
    return WorkloadConfig.from_row({str(k): v for k, v in rows.iloc[0].items()})


def recheck(real: pd.DataFrame, table: pd.DataFrame, replications: int = 21) -> dict[str, Any]:
    """`check` of one real workload's rows against ``replications`` simulations of its config."""
    config = config_of(real)
    simulated = [
        simulate(SimConfig.of(config, draw_seed=k), table, progress=False).frame()
        for k in range(replications)
    ]
    return {"seed": config.seed, "rate_per_min": config.rate_per_min} | check(real, simulated)


def load_validation(path: Path | str | None = None) -> pd.DataFrame:
    """A validation table written by benchmarks/sim_validation.py (default: the committed one)."""
    path = Path(path) if path is not None else VALIDATION
    if not path.is_file():
        raise ConfigError("validation", str(path), "no such file: run benchmarks/sim_validation.py")
    return pd.read_csv(path)


def grid(
    base: SimConfig,
    table: pd.DataFrame,
    *,
    remedies: Sequence[str],
    rates_per_min: Iterable[float],
    asr_timeouts_s: Iterable[float],
    progress: bool = True,
) -> pd.DataFrame:
    """One simulation per remedy x rate x ASR timeout: its summary line and the point."""
    points = [
        (name, float(rate), float(timeout))
        for name in remedies
        for rate in rates_per_min
        for timeout in asr_timeouts_s
    ]
    out = []
    for name, rate, timeout in tqdm(points, desc="capacity grid", disable=not progress):
        config = replace(base, remedy=name, rate_per_min=rate, asr_timeout_s=timeout)
        line = simulate_summary(config, table, progress=False).line
        out.append({"rate_per_min": rate, "asr_timeout_s": timeout} | _flat(line))
    return pd.DataFrame(out)


def devices_needed(
    base: SimConfig,
    table: pd.DataFrame,
    *,
    rate_per_min: float,
    p99_s: float,
    min_success: float = 0.99,
    most: int = 512,
) -> tuple[int | None, pd.DataFrame]:
    """The fewest devices whose simulated p99 latency is <= ``p99_s`` and success rate >=
    ``min_success`` at ``rate_per_min`` (clients scale with devices, 4 each).

    Doubling, then bisection: more devices never hurt in this model (jobs go to the device with
    the fewest in flight). Returns (devices or None when even ``most`` fail, every tried point).
    """
    if not (p99_s > 0 and 0 < min_success <= 1 and most >= 1):
        raise ConfigError("target", (p99_s, min_success, most), "need p99_s > 0, 0 < success <= 1")
    tried: dict[int, dict[str, Any]] = {}

    def meets(devices: int) -> bool:
        if devices not in tried:
            config = replace(base, rate_per_min=rate_per_min, devices=devices, clients=4 * devices)
            line = simulate_summary(config, table, progress=False).line
            tried[devices] = {"devices": devices} | _flat(line)
        row = tried[devices]
        return row["latency_p99_s"] <= p99_s and row["success_rate"] >= min_success

    low, high = 0, 1  # low fails (or is 0), high is the candidate
    while not meets(high):
        if high >= most:
            return None, pd.DataFrame([tried[d] for d in sorted(tried)])
        low, high = high, min(2 * high, most)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if meets(mid) else (mid, high)
    return high, pd.DataFrame([tried[d] for d in sorted(tried)])


def _flat(line: dict[str, Any]) -> dict[str, Any]:
    """A summary line with its error dictionaries dropped (they do not fit a table cell)."""
    return {k: v for k, v in line.items() if not isinstance(v, dict)}
