"""Random SIGKILLs across hundreds of jobs: does every job end once, on time, with its own text?

.venv/bin/python benchmarks/worker_faults.py --jobs 200
"""

from __future__ import annotations

import argparse

from asrlab.audio import corpus
from asrlab.decoding.options import preset
from asrlab.service.faults import run_with_random_kills
from asrlab.service.manager import WorkerManager
from asrlab.service.worker import WorkerConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--timeout-s", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clips = {
        c.clip_id: c.load() for c in corpus.clips("en", with_reference=True) if c.duration_s < 9
    }
    decode = preset("incident", beam_size=2, language="en")
    cfg = WorkerConfig(model=args.model, policy="hard_kill", asr_timeout_s=args.timeout_s)
    with WorkerManager(cfg) as manager:
        expected = {cid: manager.run(x, decode).text for cid, x in clips.items()}
        report = run_with_random_kills(
            manager, clips, expected, decode, n_jobs=args.jobs, seed=args.seed, progress=True
        )
    print()
    print(report.summary(), f"| respawns {manager.respawns}, late results {manager.late_results}")
    for line in report.violations[:20]:
        print("  violation:", line)
    print("PASS" if not report.violations else "FAIL")


if __name__ == "__main__":
    main()
