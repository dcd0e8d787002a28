"""The VAD stage's two backends side by side: seconds per audio second, and how far their spans are.

For an 11.2 s clip (the incident's length, Chinese speech from the corpus) and a 71.7 s one:

- cold: a fresh process per measurement, the clip loaded first; then the backend's imports
  (faster-whisper, or torch + silero_vad) and the first `detect` (model load + scoring) are timed
  separately. Median of --cold-repeats, the backends interleaved.
- warm: in this process after `warm_up`, median (and interquartile range) of --repeats calls,
  interleaved A B, B A, ... so drift hits both backends alike.

Then, for every corpus clip at the default `VadConfig`, the span agreement: numbers of spans and
the largest boundary difference in ms (the issue's bound: 100 ms), and the largest difference of
the two models' frame probabilities, which is where any disagreement comes from.

    .venv/bin/python benchmarks/vad_backends.py --repeats 7 --cold-repeats 3
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from asrlab.audio import corpus, vad

INCIDENT_VAD_S = 0.727  # the incident's VAD stage on 11.2 s of audio
INCIDENT_AUDIO_S = 11.2
LONG_CLIP = "en_ljspeech_LJ028-0030_to_0039_long"
AGREE_MS = 100.0

CLIPS: dict[str, Callable[[], np.ndarray]] = {
    "zh 11.2 s": lambda: corpus.concat_to_length(corpus.clips("zh"), INCIDENT_AUDIO_S)[0],
    "en 71.7 s": lambda: corpus.get(LONG_CLIP).load(),
}


def _import_backend(backend: str) -> None:
    """What the first call of `backend` imports (asrlab.audio.vad defers it)."""
    if backend == "onnx":
        importlib.import_module("faster_whisper.vad")
    else:
        vad._import_silero_vad()


def cold_child(backend: str, clip: str) -> None:
    """Run in a fresh process: print the cold costs as one JSON line."""
    x = CLIPS[clip]()
    t0 = time.perf_counter()
    _import_backend(backend)
    import_s = time.perf_counter() - t0
    first = vad.detect(x, backend=backend)
    print(json.dumps({"import_s": import_s, "first_s": first.seconds, "audio_s": first.audio_s}))


def cold(backend: str, clip: str) -> dict[str, float]:
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, __file__, "--cold-child", backend, clip],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median_iqr(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


def measure_cold(repeats: int) -> None:
    print(f"cold: fresh process each, median of {repeats}; seconds per audio second")
    print(f"  {'clip':<10} {'backend':<6} {'imports':>8} {'1st call':>9} {'both':>8}")
    for clip in CLIPS:
        runs: dict[str, list[dict[str, float]]] = {b: [] for b in vad.BACKENDS}
        for r in range(repeats):
            for backend in vad.BACKENDS if r % 2 == 0 else vad.BACKENDS[::-1]:
                runs[backend].append(cold(backend, clip))
        for backend, rows in runs.items():
            audio_s = rows[0]["audio_s"]
            imp = statistics.median(row["import_s"] for row in rows) / audio_s
            first = statistics.median(row["first_s"] for row in rows) / audio_s
            both = statistics.median(row["import_s"] + row["first_s"] for row in rows) / audio_s
            print(f"  {clip:<10} {backend:<6} {imp:8.4f} {first:9.4f} {both:8.4f}")


def measure_warm(repeats: int) -> None:
    for backend in vad.BACKENDS:
        vad.warm_up(backend)
    print(f"\nwarm: median [IQR] of {repeats} interleaved calls; seconds per audio second")
    for clip, make in CLIPS.items():
        x = make()
        seconds: dict[str, list[float]] = {b: [] for b in vad.BACKENDS}
        for r in range(repeats):
            for backend in vad.BACKENDS if r % 2 == 0 else vad.BACKENDS[::-1]:
                result = vad.detect(x, backend=backend)
                seconds[backend].append(result.seconds)
        audio_s = len(x) / vad.SAMPLE_RATE_HZ
        for backend, values in seconds.items():
            med, q1, q3 = _median_iqr(values)
            print(
                f"  {clip:<10} {backend:<6} {med / audio_s:.4f} [{q1 / audio_s:.4f}, "
                f"{q3 / audio_s:.4f}]  ({med * 1000:.0f} ms per call)"
            )
        onnx, torch_ = (statistics.median(seconds[b]) for b in vad.BACKENDS)
        print(f"  {clip:<10} torch / onnx = {torch_ / onnx:.2f}")
    incident = INCIDENT_VAD_S / INCIDENT_AUDIO_S
    print(
        f"  incident: {INCIDENT_VAD_S * 1000:.0f} ms for {INCIDENT_AUDIO_S} s "
        f"({incident:.3f} s per audio second)"
    )


def agreement() -> None:
    print(
        f"\nspan agreement at the default VadConfig (bound {AGREE_MS:.0f} ms): onnx vs torch "
        "(same v6.0 weights), and onnx vs torch_v6.2 (newer weights); max |dp| over 32 ms frames"
    )
    print(
        f"  {'clip':<36} {'audio s':>7} {'spans':>6} {'diff ms':>7} {'max dp':>8}"
        f" {'v6.2 ms':>8} {'v6.2 dp':>8}"
    )
    named = [(c.clip_id, c.load) for c in corpus.manifest()] + list(CLIPS.items())
    for name, make in named:
        x = make()
        onnx, torch_, v62 = (vad.detect(x, backend=b) for b in vad.ALL_BACKENDS)
        probs = [vad.frame_probs(x, b) for b in vad.ALL_BACKENDS]
        n = min(len(p) for p in probs) - 1  # faster-whisper zeroes the tail of the last frame
        dp, dp62 = (float(np.abs(probs[0][:n] - p[:n]).max()) for p in probs[1:])
        diff_ms = vad.max_boundary_diff_s(onnx, torch_) * 1000
        diff62_ms = vad.max_boundary_diff_s(onnx, v62) * 1000
        spans = f"{len(onnx.spans)}/{len(torch_.spans)}"
        flag = "" if diff_ms <= AGREE_MS else "  > bound"
        print(
            f"  {name:<36} {onnx.audio_s:7.2f} {spans:>6} {diff_ms:7.0f} {dp:8.1e}"
            f" {diff62_ms:8.0f} {dp62:8.3f}{flag}"
        )


def versions() -> str:
    names = ("faster-whisper", "onnxruntime", "torch", "silero-vad")
    return ", ".join(f"{n} {importlib.metadata.version(n)}" for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="warm calls per backend (>= 5)")
    parser.add_argument("--cold-repeats", type=int, default=3, help="fresh processes each")
    parser.add_argument(
        "--cold-child", nargs=2, metavar=("BACKEND", "CLIP"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.cold_child:
        cold_child(*args.cold_child)
        return
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")
    print(f"{os.cpu_count()} CPUs; {versions()}; torch backend on {vad.TORCH_THREADS} thread(s)\n")
    measure_cold(args.cold_repeats)
    measure_warm(args.repeats)
    agreement()


if __name__ == "__main__":
    main()
