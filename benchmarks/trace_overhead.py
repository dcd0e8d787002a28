"""What does tracing cost? Bare WhisperModel vs TracedModel, same audio, same config, one process.

Runs are interleaved (A B, then B A, ...) after one warm-up each. Every run starts from a freshly
seeded sampler, so both models do the same work (the transcripts are compared to prove it), and
from a warmed-up CTranslate2 model, so one-time initialisation is not timed. Prints the median of
the per-pair ratios (traced / bare) with their interquartile range. Issue 2's bar: <= 1.03.

An A/A run on this 2-core machine (two bare models, 12 pairs) put the median ratio anywhere in
0.95-1.02: with 5 pairs a difference under a few per cent is within the noise, so use more.

    .venv/bin/python benchmarks/trace_overhead.py --repeats 15 --noise-repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel

from asrlab.audio import corpus
from asrlab.audio.signals import near_silence, white_noise
from asrlab.decoding import models
from asrlab.decoding.decoder import TracedModel
from asrlab.decoding.options import default_threads, preset

BAR = 1.03
# Beam search only (no sampling, so the fresh generator is left untouched) on a short clip.
_WARM = {"beam_size": 1, "temperature": [0.0], "language": "en"}


def _warm(model: WhisperModel) -> None:
    segments, _ = model.transcribe(near_silence(2.0), **_WARM)
    list(segments)


def _bare_run(
    model: WhisperModel, ct2_kwargs: dict, path: str, samples: np.ndarray, kwargs: dict, seed: int
) -> tuple[float, list[str]]:
    ctranslate2.set_random_seed(seed)
    # A new CTranslate2 model gets a new worker thread, whose generator takes the seed just set.
    model.model = ctranslate2.models.Whisper(path, **ct2_kwargs)
    _warm(model)
    t0 = time.perf_counter()
    segments, _ = model.transcribe(samples, **kwargs)
    texts = [s.text for s in segments]
    return time.perf_counter() - t0, texts


def _traced_run(
    model: TracedModel, samples: np.ndarray, kwargs: dict, seed: int
) -> tuple[float, list[str]]:
    model._sampled = True  # force the same rebuild the bare model gets
    model.reseed(seed)
    _warm(model)
    t0 = time.perf_counter()
    segments, _ = model.transcribe(samples, **kwargs)
    texts = [s.text for s in segments]
    return time.perf_counter() - t0, texts


def measure(label: str, samples: np.ndarray, repeats: int, seed: int) -> float:
    path = models.resolve("base")
    threads = default_threads()
    ct2_kwargs = dict(device="cpu", compute_type="int8", intra_threads=threads, inter_threads=1)
    bare = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)
    traced = TracedModel(path, name="base", device="cpu", compute_type="int8", cpu_threads=threads)
    kwargs = preset("incident").transcribe_kwargs()
    runs: dict[str, Callable[[], tuple[float, list[str]]]] = {
        "bare": lambda: _bare_run(bare, ct2_kwargs, path, samples, kwargs, seed),
        "traced": lambda: _traced_run(traced, samples, kwargs, seed),
    }
    for run in runs.values():  # warm-up: page cache, allocator, first-call costs
        run()
    times: dict[str, list[float]] = {"bare": [], "traced": []}
    for r in range(repeats):
        order = ["bare", "traced"] if r % 2 == 0 else ["traced", "bare"]
        texts = {}
        for name in order:
            seconds, texts[name] = runs[name]()
            times[name].append(seconds)
        if texts["bare"] != texts["traced"]:
            raise SystemExit(f"{label}: the two models produced different transcripts")
    ratios = [t / b for t, b in zip(times["traced"], times["bare"], strict=True)]
    median = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (median,) * 3
    print(
        f"{label:<22} bare median {statistics.median(times['bare']):7.2f} s | traced median "
        f"{statistics.median(times['traced']):7.2f} s | ratio median {median:.3f} "
        f"(IQR {q1:.3f}-{q3:.3f}, range {min(ratios):.3f}-{max(ratios):.3f}, n={repeats}) "
        f"{'<=' if median <= BAR else '>'} {BAR}"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="pairs on jfk.flac")
    parser.add_argument("--noise-repeats", type=int, default=7, help="pairs on the noise clip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clips = {
        "jfk.flac": (corpus.get("jfk").load(), args.repeats),
        "white noise 11 s (s6)": (white_noise(11.0, seed=6), args.noise_repeats),
    }
    print(f"trace overhead, incident preset (beam 10), base int8, {default_threads()} threads")
    worst = max(measure(label, x, n, args.seed) for label, (x, n) in clips.items())
    print(f"worst median ratio {worst:.3f}: {'within' if worst <= BAR else 'OVER'} the {BAR} bar")


if __name__ == "__main__":
    main()
