"""Is the simulator right? Real workloads on this machine against the same workloads simulated.

1. Calibrate: measure a service-time table for each remedy (`asrlab.sim.calibrate.calibrate`:
   every mix item equally often, one job at a time with idle gaps, no deadline), its own seed.
2. For each remedy, three real workloads (`asrlab.sim.capacity.LOADS`: 0.3, 0.85 and 1.6 x the
   remedy's capacity on that table; another seed), run for real through the service, then the
   same config (same seed: the same arrivals and mix draws) in the simulator.
   With --own-audio, each workload's own jobs (the loads share the seed, so the same audio) are
   first measured alone (`asrlab.sim.calibrate.measure_alone`) and the simulator draws each
   job's cost from its own audio: the check then tests what the simulator adds under load, not
   which noise signals of the workload climb the fallback ladder. --tag reruns a seed for real
   (real vs real).
3. Per workload: success rate (bar: within 5 points) and p95 latency (bar: within 15 %), the
   simulator's being the median of --replications runs (the same arrivals and mix, costs drawn
   anew), whose range is printed too: at tens of jobs a p95 is decided by a handful of them.

The service is the incident's at a tenth of its time scale, so that the three loads and the
incident's failure chain fit in minutes: tiny.en int8 decodes about ten times faster than base
float32 on this machine (pink noise at the incident preset: ~3 s against ~38 s), so the ASR
timeout is 3 s (30 s), the legacy guard 2 s (20 s), hold_max 2000 ms (20 000) and the acquire
timeout 500 ms (5000). English traffic, since tiny.en is English-only.

    .venv/bin/python benchmarks/sim_validation.py --out runs/sim_validation

Writes service_times.csv, each real workload's rows, validation.csv and validation.md under
--out (every real workload found there is checked, so runs can be added with --only; --recheck
runs nothing real). asrlab/data/sim_validation.csv is a copy of validation.csv, shown by
notebooks/06_capacity.ipynb.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from asrlab import provenance
from asrlab.lab.summaries import markdown_table
from asrlab.sim import capacity
from asrlab.sim.calibrate import calibrate, measure_alone
from asrlab.sim.costs import describe, load, save
from asrlab.workload.real import run_workload
from asrlab.workload.traffic import MixItem, WorkloadConfig

MIX = (
    MixItem("lang:en", None, 0.6),  # one LibriSpeech utterance or JFK, 3-12 s
    MixItem("lang:en", 11.2, 0.2),  # the incident's length
    MixItem("pink_noise", 11.2, 0.15),  # climbs the fallback ladder
    MixItem("white_noise", 11.0, 0.05),
)
SCALED = dict(
    asr_timeout_s=3.0, segments_timeout_s=2.0, hold_max_ms=2000.0, acquire_timeout_ms=500.0
)
REMEDIES = ("incident", "vad_gate+hard_kill+no_fallback+beam_5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--remedies", nargs="+", default=list(REMEDIES))
    parser.add_argument("--calibration-jobs", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=80, help="jobs per real workload")
    parser.add_argument("--seed", type=int, default=11, help="the real workloads' seed")
    parser.add_argument("--replications", type=int, default=21)
    parser.add_argument("--only", nargs="+", help="run only these loads (light, ...)")
    parser.add_argument("--table", type=Path, help="use this table instead of calibrating")
    parser.add_argument(
        "--tag", default="", help="file suffix of the real runs (a repeat of a seed: real vs real)"
    )
    parser.add_argument(
        "--own-audio",
        action="store_true",
        help="first measure each workload's own jobs alone (measure_alone)",
    )
    parser.add_argument(
        "--recheck", action="store_true", help="run nothing real: check the workloads in --out"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/sim_validation"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    base = WorkloadConfig(
        model=args.model, compute_type=args.compute_type, clients=4, mix=MIX, **SCALED
    )
    if args.table or args.recheck:
        table = load(args.table or args.out / "service_times.csv")
    else:
        parts = [
            calibrate(replace(base, remedy=name), n_jobs=args.calibration_jobs)
            for name in args.remedies
        ]
        table = pd.concat(parts, ignore_index=True)
    save(table, args.out / "service_times.csv")
    print(describe(table).to_string(index=False))
    calibrated_s = time.perf_counter() - t0

    workloads = capacity.validation_workloads(base, args.remedies, table, args.jobs, args.seed)
    if args.only:
        workloads = {k: v for k, v in workloads.items() if k.split(" / ")[1] in args.only}
    if args.own_audio and not args.recheck:  # the loads share the seed, so the same jobs
        for name in args.remedies:
            config = replace(base, remedy=name, n_jobs=args.jobs, seed=args.seed)
            own = measure_alone(config)
            save(own, args.out / f"own_audio_{name}_{args.seed}.csv")
    if not args.recheck:
        for name, config in workloads.items():
            rows = run_workload(config).frame().assign(validation_workload=name)
            file = f"{name}_{config.n_jobs}{args.tag}".replace(" / ", "_").replace(" ", "_")
            rows.drop(columns=["segments"], errors="ignore").to_parquet(
                args.out / f"{file}.parquet"
            )

    # Every real workload in --out (this run's and earlier ones') against its simulations,
    # drawing from its own jobs' costs measured alone where --own-audio measured them.
    checked = []
    for path in sorted(args.out.glob("*_*.parquet")):
        real = pd.read_parquet(path)
        config = capacity.config_of(real)
        own = args.out / f"own_audio_{config.remedy}_{config.seed}.csv"
        drawn, costs = table, "the table"
        if own.is_file():
            drawn = pd.concat([load(own), table])
            costs = "own audio alone, else the table"
        head = {"workload": real["validation_workload"].iloc[0], "file": path.name}
        checked.append(head | capacity.recheck(real, drawn, args.replications) | {"costs": costs})
    order = {name: k for k, name in enumerate(capacity.LOADS)}
    table_out = pd.DataFrame(checked)
    table_out = table_out.sort_values(
        ["remedy", "workload"], key=lambda c: c.map(lambda w: order.get(w.split(" / ")[-1], w))
    ).reset_index(drop=True)
    table_out["code_version"] = provenance.code_version()
    table_out.to_csv(args.out / "validation.csv", index=False)
    shown = table_out[
        ["workload", "seed", "rate_per_min", "n_jobs", "success_real", "success_sim",
         "success_sim_min", "success_sim_max", "success_diff_points", "p95_real_s",
         "p95_real_low_s", "p95_real_high_s", "p95_sim_s", "p95_sim_min_s", "p95_sim_max_s",
         "p95_diff", "within", "costs"]
    ]  # fmt: skip
    text = markdown_table(shown)
    (args.out / "validation.md").write_text(text + "\n")
    print(text)
    total = time.perf_counter() - t0
    print(f"calibration {calibrated_s:.0f} s, all {total:.0f} s; {int(table_out['within'].sum())}"
          f"/{len(table_out)} workloads within the bars; under {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
