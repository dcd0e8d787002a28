"""How far does 11 s of white noise climb the temperature-fallback ladder, seed by seed?

Same audio class, same settings (incident preset, sampler seed 0), different noise: prints one
row per noise seed with the attempts (temperature: tokens, verdict), the seconds inside
``transcribe()`` and while iterating, and the segments produced. The spread is why a lab that
compares remedies must seed, repeat, and look at more than one clip.

    .venv/bin/python benchmarks/noise_ladders.py --seeds 0-6
"""

from __future__ import annotations

import argparse

from asrlab.audio.signals import white_noise
from asrlab.decoding.decoder import load_model
from asrlab.decoding.options import preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-6", help="first-last noise seed")
    parser.add_argument("--length-s", type=float, default=11.0)
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    model = load_model("base")
    print(f"white noise {args.length_s:g} s, incident preset (beam 10), base int8, sampler seed 0")
    print(f"{'seed':>4} {'lang':>5} {'transcribe s':>13} {'iterate s':>10} {'segs':>5}  attempts")
    for seed in range(int(first), int(last or first) + 1):
        trace = model.run(white_noise(args.length_s, seed=seed), preset("incident"))
        ladder = ", ".join(f"{a.temperature:.1f}:{a.tokens} {a.verdict}" for a in trace.attempts)
        print(
            f"{seed:>4} {trace.language:>5} {trace.transcribe_s:>13.2f} {trace.iterate_s:>10.2f} "
            f"{len(trace.segments):>5}  {ladder}",
            flush=True,
        )


if __name__ == "__main__":
    main()
