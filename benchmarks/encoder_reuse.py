"""Encoder reuse: what one encoder pass for window 0 saves against production's two, one process.

With ``language=None`` faster-whisper 1.2.1 encodes the first 30 s window to detect the language
inside ``transcribe()`` and again to decode it. `DecodeConfig.reuse_language_encoding` hands the
detection's encoding to the decode. Both configs run on one `TracedModel` (base, int8, the
incident preset), interleaved (production then reused, then reused then production, ...) after a
warm-up of each, on jfk.flac (11 s, one window) and on 60 s of English (two windows). Prints, per
clip, the median of the per-pair wall-time ratios reused / production with their range, whether
every pair's transcripts were identical, and the window-0 encode seconds each paid. Issue 15's bar
on jfk.flac: a median ratio <= 0.80.

    .venv/bin/python benchmarks/encoder_reuse.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from asrlab.audio import corpus
from asrlab.decoding.decoder import TracedModel, load_model
from asrlab.decoding.options import preset

BAR = 0.80  # on jfk.flac


def _run(model: TracedModel, samples: np.ndarray, reuse: bool) -> tuple[float, list[str], float]:
    config = replace(preset("incident"), reuse_language_encoding=reuse, compute_type="int8")
    t0 = time.perf_counter()
    trace = model.run(samples, config)
    return time.perf_counter() - t0, [s.text for s in trace.segments], trace.windows[0].encode_s


def measure(model: TracedModel, label: str, samples: np.ndarray, repeats: int) -> float:
    for reuse in (False, True):  # warm-up: first-call costs, page cache, allocator
        _run(model, samples, reuse)
    ratios, same, encode = [], True, {False: [], True: []}
    for r in range(repeats):
        order = (False, True) if r % 2 == 0 else (True, False)
        got = {reuse: _run(model, samples, reuse) for reuse in order}
        ratios.append(got[True][0] / got[False][0])
        same &= got[True][1] == got[False][1]
        for reuse in (False, True):
            encode[reuse].append(got[reuse][2])
    median = statistics.median(ratios)
    print(
        f"{label:<28} reused/production median {median:.3f} "
        f"[{min(ratios):.3f}, {max(ratios):.3f}] over {repeats} pairs; "
        f"transcripts identical: {same}; window-0 encode s: production "
        f"{statistics.median(encode[False]):.3f}, reused {statistics.median(encode[True]):.3f}"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved pairs per clip")
    args = parser.parse_args()
    model = load_model("base", compute_type="int8")
    english = corpus.clips("en", with_reference=True)
    long_s, _ = corpus.concat_to_length(english, 60.0)
    jfk = measure(model, "jfk.flac (11 s)", corpus.get("jfk").load(), args.repeats)
    measure(model, "English, 60 s", long_s, args.repeats)
    print(f"jfk.flac: {jfk:.3f} {'<=' if jfk <= BAR else '>'} the bar {BAR}")


if __name__ == "__main__":
    main()
