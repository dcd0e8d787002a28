"""Which speech climbs the fallback ladder? Every hard-speech candidate at the incident preset.

The incident's job was speech that the VAD passed (one span) and faster-whisper took for zh, yet
its decode climbed the temperature-fallback ladder for 24.7 s (docs/incident.md). The lab's other
ladder-climbers are noise, which a VAD gate removes. This decodes every candidate of
`asrlab.audio.corpus.hard_speech_candidates` (both languages: speech under pink noise at -10 to
-3 dB SNR, under babble of three other talkers, and reversed) with base at the incident preset
(beam 10, the default ladder, sampler seed 0) and prints, per candidate: the share of it that
Silero VAD (faster-whisper's ONNX backend) marks speech, the most attempts in one window (and
when only the speech spans are decoded, as behind a VAD gate: ``gated``), the RTF,
the detected language, the error rate against the reference (CER for zh, WER for en; for reversed
speech, which holds no words, the units emitted), the transcript's start, and whether the
`hard_speech` class keeps it: VAD share >= 0.5 and >= 3 attempts in a window. Markdown, headed by
the commit, CPU and date (docs/results/census.md holds the committed table).

    .venv/bin/python benchmarks/ladder_census.py [--compute-type auto] [--only zh_c0_pink-5dB]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from asrlab import provenance
from asrlab.analysis.hallucination import emitted
from asrlab.analysis.metrics import error_rate
from asrlab.audio import corpus, vad
from asrlab.decoding.decoder import load_model
from asrlab.decoding.options import preset

MIN_SPEECH_SHARE = 0.5
MIN_ATTEMPTS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compute-type", default="auto", help="CTranslate2 compute type")
    parser.add_argument("--only", nargs="*", default=None, help="candidate names to decode")
    args = parser.parse_args()
    model = load_model("base", compute_type=args.compute_type)
    config = preset("incident", compute_type=args.compute_type, seed=0)
    vad.warm_up("onnx")
    where = provenance.record()
    print(
        f"commit {where['code_version']}, {where['cpu']}, {time.strftime('%Y-%m-%d')}, "
        f"base {model.model.compute_type}, incident preset (beam 10), sampler seed 0\n"
    )
    print("| candidate | VAD speech | attempts | gated | RTF | language | error | text | kept |")
    print("|---|---|---|---|---|---|---|---|---|")
    kept = []
    t0 = time.perf_counter()
    for candidate in corpus.hard_speech_candidates():
        if args.only and candidate.name not in args.only:
            continue
        item = corpus.hard_speech_item(candidate)
        found = vad.detect(item.samples, backend="onnx")
        share = found.speech_s / found.audio_s
        trace = model.run(item.samples, config)
        climbed = _most_attempts(trace)
        # What a VAD gate passes on (the speech spans, joined): does that still climb?
        gated = _most_attempts(model.run(vad.keep_speech(item.samples, found), config))
        if item.reference:
            error = f"{error_rate(item.reference, trace.text, item.language):.2f}"
        else:
            error = f"{emitted(trace.text).units} units emitted"
        keep = share >= MIN_SPEECH_SHARE and climbed >= MIN_ATTEMPTS
        kept += [candidate.name] if keep else []
        text = trace.text.replace("|", "/")
        text = text if len(text) <= 40 else text[:39] + "…"
        print(
            f"| {candidate.name} | {found.speech_s:.1f} s ({share:.0%}) | {climbed} | {gated} | "
            f"{trace.rtf:.2f} | {trace.language} | {error} | {text} | {'yes' if keep else 'no'} |",
            flush=True,
        )
    print(f"\nkept {len(kept)}: {', '.join(kept)} ({time.perf_counter() - t0:.0f} s)")


def _most_attempts(trace: Any) -> int:
    return max((len(w.attempts) for w in trace.windows), default=0)


if __name__ == "__main__":
    main()
