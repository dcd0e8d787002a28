"""The same seeded workload over HTTP against `asrlab serve` (recommended, incident) and the peer
faster-whisper-server (the incident preset's decode): one table of what clients got.

Each target is started on loopback as a user runs it (its own process, stopped by its pid),
driven by `asrlab.endpoint.driver` with the same workload (the default mix, seeded), and its run
written under runs/endpoint_drive-<stamp>/<target>/. The table (jobs/min, RTFx, p50/p95 latency
with 95 % intervals, failures by cause, CER/WER on the clips with words), headed by the commit,
the machine and the date, is written to docs/results/endpoint_drive.md (--md) and printed.
The peer needs the extra `peers` (`make peers`); without it its line says so.

    .venv/bin/python benchmarks/endpoint_drive.py                # 200 jobs x 3 targets, ~40 min
    .venv/bin/python benchmarks/endpoint_drive.py --jobs 6 --md /tmp/endpoint_drive.md
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from asrlab import provenance
from asrlab.endpoint import peer
from asrlab.endpoint.drive_summary import DriveSummary, format_summary
from asrlab.endpoint.driver import DriveConfig, drive, write
from asrlab.endpoint.process import serving
from asrlab.service.remedies import remedy
from asrlab.service.scaling import scale_for, thresholds
from asrlab.service.settings import ServiceSettings
from asrlab.stats import Estimate
from asrlab.workload.traffic import WorkloadConfig

TARGETS = ("recommended", "incident", "peer")
# The arrival rate is set from this machine's speed, measured in the same run: the first
# PROBE_JOBS of the seeded plan sent one at a time to the first target (the lab's pick), their
# mean latency its service time, and the rate UTILISATION of the jobs/min that allows. So the
# pick is loaded alike on any CPU, and a target that serves slower than it is overloaded.
PROBE_JOBS = 12
UTILISATION = 0.7
STARTED_WITHIN_S = 300.0  # the base model assembled and loaded by a fresh worker


def scaled(remedy_name: str, model: str, scale: float) -> list[str]:
    """``asrlab serve`` options with the remedy's timeouts and the arbiter's limits times
    ``scale`` (`asrlab.service.scaling`, as `asrlab reproduce` scales its replays)."""
    values = thresholds(ServiceSettings(model=model, remedy=remedy_name), scale).overrides()
    return [f"--{k.replace('_', '-')}={v:.6g}" for k, v in sorted(values.items())]


def job_a_decode_s(model: str) -> float:
    """The replay's job A (11.2 s of pink noise, seed 3) decoded alone here, as a served worker
    decodes its 16-bit upload: what `asrlab reproduce --http` calibrates on."""
    from asrlab.cli.reproduce import measure_job_a

    return measure_job_a({"model": model, "transport": "http"}, show=False)


@contextlib.contextmanager
def target(name: str, model: str, scale: float | None) -> Iterator[tuple[str, str | None]]:
    """(URL, label) of a running target; the label names a peer, whose rows say no remedy (nor
    any threshold: it has none to scale)."""
    if name == "peer":
        with peer.run_peer(model, decode=remedy("incident").decode) as running:
            yield running.url, peer.LABEL
    else:
        options = [] if scale is None else scaled(name, model, scale)
        with serving(["--remedy", name, "--model", model, *options]) as server:
            yield server.url, None


def _est(e: Estimate) -> str:
    return "-" if math.isnan(e.value) else f"{e.value:.1f} [{e.low:.1f}, {e.high:.1f}]"


def _rate(value: float, clips: int) -> str:
    return "-" if not clips else f"{value:.3f} ({clips})"


def table_row(name: str, s: DriveSummary) -> str:
    failed = ", ".join(f"{k} {v}" for k, v in s.failed.items() if v) or "none"
    if s.sent < s.jobs:
        failed += f"; {s.jobs - s.sent} not sent"
    return (
        f"| {name} | {s.jobs} | {s.ok} | {s.jobs_per_min:.1f} | {s.rtfx:.2f} | "
        f"{_est(s.latency_p50_s)} | {_est(s.latency_p95_s)} | {failed} | "
        f"{_rate(s.cer, s.cer_clips)} | {_rate(s.wer, s.wer_clips)} |"
    )


def probe_rate(url: str, workload: WorkloadConfig) -> tuple[float, float]:
    """(arrivals per minute, mean service s): ``UTILISATION`` of what ``url`` serves one job at
    a time, measured on the workload's first `PROBE_JOBS` jobs sent back to back."""
    probe = replace(workload, n_jobs=PROBE_JOBS, rate_per_min=60_000.0)
    result = drive(DriveConfig(url, probe, concurrency=1, timeout_s=600.0), progress=False)
    service_s = result.wall_s / PROBE_JOBS  # back to back: the wall time is all service
    return UTILISATION * 60.0 / service_s, service_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=None,
        help=f"arrivals per minute (default: {UTILISATION:g} of the first target's, measured)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="base")
    parser.add_argument("--timeout-s", type=float, default=120.0)
    parser.add_argument("--max-wall-s", type=float, default=None)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument(
        "--absolute", action="store_true",
        help="the incident's thresholds as they were (default: scaled to job A's decode here)",
    )
    parser.add_argument("--md", type=Path, default=Path("docs/results/endpoint_drive.md"))
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args()
    workload = WorkloadConfig(n_jobs=args.jobs, seed=args.seed)
    folder = args.runs / time.strftime("endpoint_drive-%Y%m%d-%H%M%S")
    lines = []
    rate_note = "" if args.rate is None else f"{args.rate:g} jobs/min, as asked"
    scale: float | None = None
    scale_note = "the incident's absolute thresholds (--absolute)"
    if not args.absolute:
        decode_s = job_a_decode_s(args.model)
        scale = scale_for(decode_s)
        values = thresholds(ServiceSettings(model=args.model), scale)
        scale_note = (
            f"thresholds scaled by {scale:.3f} to job A's decode alone in this run ({decode_s:.1f} "
            f"s; `asrlab reproduce`'s calibration): the incident's ASR timeout "
            f"{values.asr_timeout_s:.2f} s, guard {values.segments_timeout_s:.2f} s, hold_max "
            f"{values.hold_max_ms / 1000:.2f} s, acquire timeout "
            f"{values.acquire_timeout_ms / 1000:.2f} s (each remedy's own timeouts scaled alike)"
        )
        print(scale_note, flush=True)
    for name in args.targets:
        if name == "peer" and importlib.util.find_spec(peer.MODULE) is None:
            lines.append(f"| {name} | not run: faster-whisper-server not installed (make peers) |")
            continue
        t0 = time.monotonic()
        with target(name, args.model, scale) as (url, label):
            if args.rate is None:
                args.rate, service_s = probe_rate(url, workload)
                rate_note = (
                    f"{args.rate:.1f} jobs/min: {UTILISATION:g} of what `{name}` served one job "
                    f"at a time in this run ({PROBE_JOBS} jobs, mean {service_s:.2f} s each)"
                )
                print(rate_note, flush=True)
            workload = replace(workload, rate_per_min=args.rate)
            config = DriveConfig(
                url,
                workload,
                concurrency=args.concurrency,
                timeout_s=args.timeout_s,
                max_wall_s=args.max_wall_s,
                label=label,
            )
            result = drive(config)
        write(result, folder / name)
        print(f"\n{name} ({time.monotonic() - t0:.0f} s with start and stop):")
        print(format_summary(result.summary), flush=True)
        lines.append(table_row(name, result.summary))
    where = provenance.record()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    command = (
        f"benchmarks/endpoint_drive.py --jobs {args.jobs} --concurrency {args.concurrency} "
        f"--rate {args.rate:g} --seed {args.seed} --model {args.model} "
        f"--timeout-s {args.timeout_s:g}"
        + (f" --max-wall-s {args.max_wall_s:g}" if args.max_wall_s else "")
        + (" --absolute" if args.absolute else "")
    )
    text = "\n".join(
        [
            "# `asrlab drive`: one workload against the lab's server and a peer",
            "",
            "| figures | commit | machine | date |",
            "|---|---|---|---|",
            f"| the table below | `{where['code_version']}` | {where['cpu']}, {cores} cores, "
            f"GPU: {where['gpu'] or 'none'} | {time.strftime('%Y-%m-%d')} |",
            "",
            f"`{command}`: the default mix, Poisson arrivals at {rate_note}; the lab's server "
            f"with {scale_note}; each target on "
            "loopback in a process "
            "of its own (`asrlab serve --remedy NAME`; faster-whisper-server 0.0.3 with the "
            "incident preset's decode), each job sent once (no retries), runs under "
            f"`{folder}`. Latency is what the client observed, arrival to answer (s, 95 % "
            "intervals); jobs/min and RTFx count the ok jobs over the drive's wall time; CER "
            "(Mandarin) and WER (English) are means over the ok clips with words (clips).",
            "",
            "| target | jobs | ok | jobs/min | RTFx | p50 latency s | p95 latency s "
            "| failures by cause | CER zh | WER en |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *lines,
            "",
        ]
    )
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(text)
    print(f"\n{text}\nwritten to {args.md}")


if __name__ == "__main__":
    main()
