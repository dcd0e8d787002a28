"""What does the wire cost? The same jfk.flac job as an HTTP request to `asrlab serve` vs the
same node called in-process.

One process, one server (`serve_in_thread` on 127.0.0.1): the in-process side calls the very node
the server runs its jobs on (``server.host._node.run(job_id, flac_bytes)``: the same upload
decode in a child process, VAD, lease, worker), the served side posts the file with httpx
(multipart, ``response_format=json``) and waits for the answer: the upload, the form parsing, the
thread hop and the JSON answer are the difference. Runs interleaved (A B, B A, ...) after one
warm-up of each, one job at a time. Issue 22's bar: median ratio served / in-process <= 1.10.

    .venv/bin/python benchmarks/endpoint_overhead.py                 # base, 15 repeats
    .venv/bin/python benchmarks/endpoint_overhead.py --repeats 3 --model tiny.en

Timings from a CPU shared with other work say nothing: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import httpx

import asrlab
from asrlab import provenance
from asrlab.endpoint.app import JOB_ID_HEADER
from asrlab.endpoint.server import ServeConfig, serve_in_thread
from asrlab.service.settings import ServiceSettings
from asrlab.stats import percentile

BAR = 1.10
JFK = Path(asrlab.__file__).parent / "data" / "audio" / "jfk.flac"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--model", default="base")
    parser.add_argument("--remedy", default="incident", help="the served node's remedy")
    args = parser.parse_args()
    data = JFK.read_bytes()
    settings = ServiceSettings(model=args.model, remedy=args.remedy)
    with serve_in_thread(ServeConfig(settings=settings)) as server, httpx.Client(
        timeout=120.0
    ) as client:
        node = server.host._node  # the node every served job runs on
        assert node is not None
        calls = 0

        def in_process() -> float:
            nonlocal calls
            calls += 1
            job_id = f"inproc-{calls}"
            t0 = time.perf_counter()
            record = node.run(job_id, data)
            took = time.perf_counter() - t0
            node.forget(job_id)  # as the server does once a job is settled
            assert record.status == "ok", record.client_error
            return took

        def served() -> float:
            nonlocal calls
            calls += 1
            t0 = time.perf_counter()
            response = client.post(
                f"{server.url}/v1/audio/transcriptions",
                files={"file": (JFK.name, data, "audio/flac")},
                data={"model": "whisper-1", "response_format": "json"},
                headers={JOB_ID_HEADER: f"http-{calls}"},
            )
            took = time.perf_counter() - t0
            assert response.status_code == 200, response.text
            return took

        runs = {"in_process": in_process, "served": served}
        for run in runs.values():  # warm-up: the worker's first decode, the connection
            run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeats):
            for name in list(runs) if r % 2 == 0 else list(runs)[::-1]:
                times[name].append(runs[name]())
    ratios = [s / p for s, p in zip(times["served"], times["in_process"], strict=True)]
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (median,) * 3
    interval = percentile(ratios, 50)
    where = provenance.record()
    print(
        f"endpoint_overhead | commit {where['code_version']} | {where['cpu']}, "
        f"{os.cpu_count()} CPUs, GPU {where['gpu'] or 'none'} | {time.strftime('%Y-%m-%d')}\n"
        f"{JFK.name} on {args.model} ({args.remedy}): in-process median "
        f"{statistics.median(times['in_process']):.3f} s | served median "
        f"{statistics.median(times['served']):.3f} s | ratio median {median:.3f} "
        f"(IQR {q1:.3f}-{q3:.3f}; 95 % bootstrap {interval.low:.3f}-{interval.high:.3f}; "
        f"n={args.repeats}) {'<=' if median <= BAR else '>'} {BAR}"
    )


if __name__ == "__main__":
    main()
