"""What does the worker process cost? End to end through the worker vs TracedModel in-process.

Same clip, same config, list mode, no timeout; runs interleaved (A B, B A, ...) after a warm-up,
in one process that also owns the worker. The worker's time includes pickling the audio over the
pipe and the result back. Issue 3's bar: median ratio <= 1.10.

    .venv/bin/python benchmarks/worker_overhead.py --repeats 15
"""

from __future__ import annotations

import argparse
import statistics
import time

from asrlab.audio import corpus
from asrlab.decoding.decoder import load_model
from asrlab.decoding.options import preset
from asrlab.service.manager import WorkerManager
from asrlab.service.worker import WorkerConfig

BAR = 1.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--clip", default="jfk")
    args = parser.parse_args()
    clip = corpus.get(args.clip).load()
    config = preset("incident")
    local = load_model("base")

    def in_process() -> float:
        t0 = time.perf_counter()
        local.run(clip, config)
        return time.perf_counter() - t0

    with WorkerManager(WorkerConfig(policy="none")) as manager:

        def via_worker() -> float:
            t0 = time.perf_counter()
            manager.run(clip, config)
            return time.perf_counter() - t0

        runs = {"in_process": in_process, "worker": via_worker}
        for run in runs.values():
            run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeats):
            for name in list(runs) if r % 2 == 0 else list(runs)[::-1]:
                times[name].append(runs[name]())
    ratios = [w / p for w, p in zip(times["worker"], times["in_process"], strict=True)]
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    print(
        f"{args.clip}: in-process median {statistics.median(times['in_process']):.3f} s | "
        f"worker median {statistics.median(times['worker']):.3f} s | ratio median {median:.3f} "
        f"(IQR {q1:.3f}-{q3:.3f}, n={args.repeats}) "
        f"{'<=' if median <= BAR else '>'} {BAR}"
    )


if __name__ == "__main__":
    main()
