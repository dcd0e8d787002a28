"""How fast is the simulator, in how much memory? Jobs per preset, timed, on the bundled table.

The bars: 100,000 jobs in under 20 s (issue 6); a day of traffic, 864,000 jobs at 600 a minute
on 60 devices, in under 60 s and 1 GiB (issue 20), on the 2-core lab machine. Each preset is
run --repeats times, interleaved, as `asrlab simulate` runs it (`simulate_summary`: no rows kept),
and the median, min and max wall seconds are printed, with the process's peak resident memory.
`--kept` times `simulate` instead, which keeps every row and event (memory grows with the jobs).

    .venv/bin/python benchmarks/sim_speed.py --jobs 100000 --repeats 3
    .venv/bin/python benchmarks/sim_speed.py --jobs 864000 --rate 10 --devices 60 --repeats 1 \\
        --presets recommended
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from asrlab.sim.core import SimConfig, simulate, simulate_summary
from asrlab.sim.costs import load
from asrlab.workload.attribution import format_summary

PRESETS = ("incident", "vad_gate+hard_kill+no_fallback+beam_5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=6.0, help="arrivals per minute per device")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--kept", action="store_true", help="keep every row (`simulate`)")
    args = parser.parse_args()
    table = load()
    wall: dict[str, list[float]] = {p: [] for p in args.presets}
    lines = {}
    for _ in range(args.repeats):
        for preset in args.presets:  # interleaved: drift on the machine hits both alike
            config = SimConfig(
                remedy=preset,
                n_jobs=args.jobs,
                rate_per_min=args.rate * args.devices,
                devices=args.devices,
                clients=4 * args.devices,
            )
            t0 = time.perf_counter()
            if args.kept:
                lines[preset] = simulate(config, table, progress=False).summary()
            else:
                lines[preset] = simulate_summary(config, table, progress=False).line
            wall[preset].append(time.perf_counter() - t0)
    for preset, runs in wall.items():
        print(
            f"{preset}: {args.jobs} jobs, simulation and summary median "
            f"{statistics.median(runs):.2f} s (min {min(runs):.2f}, max {max(runs):.2f}); "
            f"{args.repeats} repeats"
        )
        print(format_summary(lines[preset]))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    print(f"peak resident memory of the process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
