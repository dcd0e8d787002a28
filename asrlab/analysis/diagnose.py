"""What would have fixed MY clip? One clip traced at the user's settings, then every remedy on it.

`diagnose` decodes the clip under a base remedy (the user's settings, ``incident`` by default)
with the full trace, then under each remedy and peer whose decode differs (its decode options
and VAD gate, as the node would run them, without the lease), all in this process one after the
other, so the costs compare on one machine. Remedies that change only the service (timeouts, the
arbiter) decode exactly as the base does and are named on its row.

Columns of `Diagnosis.rows` (one per distinct decode): ``remedies`` (every remedy that decodes
so, comma-separated), ``peer``, ``job_s`` (VAD included), ``job_rtf``, ``vs_base`` (job_s / the
base's), ``attempts``, ``attempts_max`` (most in one window), ``vad_gate``, ``gated_out`` (the
gate found no speech: nothing decoded; how much of the clip the VAD marks speech is
`Diagnosis.speech_share`), ``units`` and ``known_phrases``
(what was emitted, `asrlab.analysis.hallucination`: on audio without words, all of it is made
up; the known phrases only then, None on speech, where a real "thank you" would count),
``text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from asrlab.analysis import evaluate
from asrlab.analysis.hallucination import emitted
from asrlab.audio import vad
from asrlab.audio.samples import SAMPLE_RATE_HZ
from asrlab.decoding.decoder import TracedModel
from asrlab.decoding.trace import DecodeTrace
from asrlab.errors import ConfigError
from asrlab.service.remedies import REMEDIES, Remedy, remedy

TEXT_CHARS = 40  # a transcript cut to this many characters in the table
SPEECH_SHARE = 0.5  # a clip the VAD marks at least this much speech is speech (`hard_speech`'s)


@dataclass(frozen=True)
class Diagnosis:
    """The base decode's trace, one row per distinct decode, and the verdict line."""

    label: str
    base: str
    trace: DecodeTrace
    rows: pd.DataFrame
    speech_share: float  # of the clip, by Silero VAD (the ONNX backend the node runs)
    verdict: str

    def table(self) -> pd.DataFrame:
        """The rows as printed: rounded, the transcript cut to `TEXT_CHARS`."""
        shown = self.rows.assign(text=self.rows["text"].map(_cut))
        columns = ["remedies", "job_s", "job_rtf", "vs_base", "attempts", "attempts_max"]
        columns += ["gated_out", "units", "known_phrases", "text"]
        return shown[columns].round(3)


def distinct(base: str, names: Sequence[str] | None = None) -> list[tuple[Remedy, list[str]]]:
    """The remedies to decode, the base first: one per distinct (decode options, VAD gate),
    each with every name that decodes so, in `REMEDIES` order (``recommended`` rides along)."""
    chosen = [remedy(base)] + [remedy(n) for n in (names or REMEDIES) if n != base]
    groups: dict[tuple[str, bool, bool], tuple[Remedy, list[str]]] = {}
    for r in chosen:
        key = r.decodes_as()
        if key in groups:
            groups[key][1].append(r.name)
        else:
            groups[key] = (r, [r.name])
    return list(groups.values())


def diagnose(
    model: TracedModel,
    samples: np.ndarray,
    *,
    label: str = "clip",
    base: str = "incident",
    remedies: Sequence[str] | None = None,
    progress: bool = True,
) -> Diagnosis:
    """Decode ``samples`` under ``base`` (traced) and under every remedy of ``remedies``
    (default: all, and the peers) whose decode differs.

    Raises:
        ConfigError: an unknown remedy, or a clip with no samples.
    """
    from tqdm import tqdm

    if len(samples) == 0:
        raise ConfigError("samples", 0, "the clip holds no audio")
    clip_s = len(samples) / SAMPLE_RATE_HZ
    vad.warm_up()
    found = vad.detect(samples)
    speech_share = found.speech_s / clip_s
    groups = distinct(base, remedies)
    # A model's first decode pays one-time costs (allocations, kernels chosen): paid here on one
    # second of quiet, not by the base's row, which every other row is compared with.
    model.run(np.zeros(SAMPLE_RATE_HZ, dtype=np.float32), groups[0][0].decode)
    trace: DecodeTrace | None = None
    lines = []
    for r, names in tqdm(groups, desc=f"diagnose {label}", unit="decode", disable=not progress):
        row = evaluate.evaluate(
            model,
            r.decode,
            [(label, samples, None, "")],
            progress=False,
            vad_gate=r.vad_gate,
            vad_trim=r.vad_trim,
        ).iloc[0]
        if trace is None:  # the base's decode, traced: not decoded twice
            gated_out = bool(row["gated_out"])
            trace = DecodeTrace(model.name, clip_s, {}) if gated_out else model.last_trace
        said = emitted(row["hypothesis"])
        lines.append(
            {
                "remedies": ", ".join(names),
                "peer": r.peer,
                "job_s": row["job_s"],
                "job_rtf": row["job_rtf"],
                "attempts": int(row["attempts"]),
                "attempts_max": int(row["attempts_max"]),
                "vad_gate": r.vad_gate,
                "gated_out": bool(row["gated_out"]),
                "units": said.units,
                "known_phrases": None if speech_share >= SPEECH_SHARE else said.known,
                "text": row["hypothesis"],
            }
        )
    rows = pd.DataFrame(lines)
    rows.insert(4, "vs_base", rows["job_s"] / rows["job_s"].iloc[0])
    assert trace is not None
    return Diagnosis(label, base, trace, rows, speech_share, verdict(rows, speech_share, base))


def verdict(rows: pd.DataFrame, speech_share: float, base: str) -> str:
    """One line: what the base decode did with the clip, and the cheapest fix that keeps words.

    The clip is treated as speech when the VAD marks at least `SPEECH_SHARE` of it so (the
    `hard_speech` rule); on speech the fix must still emit something, on non-speech it should
    emit nothing.
    """
    first = rows.iloc[0]
    speech = speech_share >= SPEECH_SHARE
    what = f"VAD marks {speech_share:.0%} of the clip speech"
    cost = (
        f"{base} decoded it in {first['job_s']:.1f} s (RTF {first['job_rtf']:.2f}, "
        f"{first['attempts']} attempt(s), at most {first['attempts_max']} in one window)"
    )
    others = rows.iloc[1:]
    keeps = others[others["units"] > 0] if speech else others[others["units"] <= first["units"]]
    if keeps.empty:
        return f"{cost}; {what}; no remedy does better on it."
    best = keeps.sort_values("job_s").iloc[0]
    why = "keeps a transcript" if speech else "emits no more than the base"
    if not speech and best["units"] == 0:
        why = "emits nothing, as audio without words should"
    gate = ""
    gated = rows[rows["vad_gate"]]
    if speech and len(gated) and not gated["gated_out"].any():
        gate = "; the VAD gate passes it, so the gate alone does not make it cheap"
    name = str(best["remedies"]).split(", ")[0]
    return (
        f"{cost}; {what}{gate}. Cheapest fix that {why}: {name}, "
        f"{best['job_s']:.3g} s ({best['vs_base']:.2g}x the base)."
    )


def _cut(text: Any) -> str:
    text = str(text or "")
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def on_references(
    model: TracedModel,
    items: Sequence[Any],
    *,
    base: str = "incident",
    remedies: Sequence[str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Your labelled set under the base and under each remedy whose decode differs: accuracy
    compared utterance by utterance (`asrlab.analysis.scoreboard.paired`) and cost.

    Columns (one row per distinct decode, the base first): ``remedies``, ``language``,
    ``rate`` (pooled WER, or CER for Mandarin), ``d_points`` (the difference to the base, in
    points) with ``low`` / ``high`` (its paired 95 % interval), ``utterances``, ``job_s`` (all
    utterances, VAD included) and ``vs_base`` (cost against the base's).

    Raises:
        ConfigError: an unknown remedy, or no items.
    """
    from tqdm import tqdm

    from asrlab.analysis import scoreboard

    if not items:
        raise ConfigError("items", 0, "the set holds no utterances")
    groups = distinct(base, remedies)
    decoded: list[tuple[list[str], pd.DataFrame]] = []
    for r, names in tqdm(groups, desc="diagnose the set", unit="decode", disable=not progress):
        rows = evaluate.evaluate(
            model, r.decode, items, progress=progress, vad_gate=r.vad_gate, vad_trim=r.vad_trim
        )
        decoded.append((names, rows))
    base_rows = decoded[0][1]
    lines = []
    for names, rows in decoded:
        for name, est in scoreboard.paired(rows, base_rows).items():
            lines.append(
                {
                    "remedies": ", ".join(names),
                    "language": name,
                    "rate": scoreboard.error_rates(scoreboard.clean_rows(rows))[name],
                    "d_points": 100 * est.value,
                    "low": 100 * est.low,
                    "high": 100 * est.high,
                    "utterances": est.n,
                    "job_s": float(rows["job_s"].sum()),
                }
            )
    out = pd.DataFrame(lines)
    out["vs_base"] = out["job_s"] / out["job_s"].iloc[0]
    return out
