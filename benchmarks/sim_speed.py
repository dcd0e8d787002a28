"""How fast is the simulator? 100,000 jobs per preset, timed, on the bundled service-time table.

The bar (issue 6): 100,000 jobs in under 20 s on the 2-core lab machine. Each preset is run
--repeats times, interleaved, and the median, min and max wall seconds are printed: the
simulation alone, and with `attribution.summarize` (percentiles with intervals, attribution)
as `asrlab simulate` prints it.

    .venv/bin/python benchmarks/sim_speed.py --jobs 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from asrlab.sim.core import SimConfig, simulate
from asrlab.sim.costs import load
from asrlab.workload.attribution import format_summary, summarize

PRESETS = ("incident", "vad_gate+hard_kill+no_fallback+beam_5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=6.0, help="arrivals per minute per device")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    args = parser.parse_args()
    table = load()
    wall: dict[str, list[tuple[float, float]]] = {p: [] for p in args.presets}
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
            result = simulate(config, table, progress=False)
            t1 = time.perf_counter()
            lines[preset] = summarize(result.frame())
            wall[preset].append((t1 - t0, time.perf_counter() - t0))
    for preset, runs in wall.items():
        alone = [a for a, _ in runs]
        whole = [b for _, b in runs]
        print(
            f"{preset}: {args.jobs} jobs, simulate median {statistics.median(alone):.2f} s "
            f"(min {min(alone):.2f}, max {max(alone):.2f}); with the summary median "
            f"{statistics.median(whole):.2f} s (max {max(whole):.2f}); {args.repeats} repeats"
        )
        print(format_summary(lines[preset]))


if __name__ == "__main__":
    main()
