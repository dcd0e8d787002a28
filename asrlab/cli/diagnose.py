"""``asrlab diagnose``: your clip at your settings, then every remedy and peer on it."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from asrlab.cli.app import fail
from asrlab.cli.transcribe import (
    STRESS_LENGTH_S,
    STRESS_NOISE_SEED,
    NoiseSeed,
    StressLength,
    _load,
)
from asrlab.errors import AsrlabError


def diagnose(
    source: Annotated[
        str | None,
        typer.Argument(help="Audio file, corpus clip id, or stress source (`pink_noise`, ...)."),
    ] = None,
    preset: Annotated[
        str, typer.Option(help="The remedy whose settings you run (`asrlab presets`).")
    ] = "incident",
    remedies: Annotated[
        str | None,
        typer.Option(help="Comma-separated remedies to try (default: every remedy and peer)."),
    ] = None,
    model: Annotated[str, typer.Option(help="base, tiny.en, a model folder.")] = "base",
    compute_type: Annotated[
        str, typer.Option(help="int8 (the sweeps'), float32 (the replay's), auto.")
    ] = "int8",
    noise_seed: NoiseSeed = STRESS_NOISE_SEED,
    length_s: StressLength = STRESS_LENGTH_S,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    references: Annotated[
        str | None,
        typer.Option(
            help="Instead of one clip, your labelled folder (clips and references.tsv: id TAB "
            "text) or a bundled set (`zh_clean_20`): each remedy's accuracy against --preset's "
            "on the same utterances, with its paired 95 % interval, and its cost."
        ),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="The language of --references' folder (zh, en, ...).")
    ] = None,
    max_items: Annotated[
        int | None, typer.Option(help="Only the first N utterances of --references.")
    ] = None,
) -> None:
    """What would have fixed SOURCE? Its trace at --preset, then every remedy and peer on it:
    cost, attempts, whether the VAD passes it, what it emits, and a verdict. With --references,
    what a remedy costs in accuracy on your own speech (default remedies: recommended, batched)."""
    if references is not None:
        _on_references(references, language, max_items, preset, remedies, model, compute_type)
        return
    if source is None:
        fail(AsrlabError("name a SOURCE clip, or a labelled folder with --references"))
        return
    from asrlab.analysis.diagnose import diagnose as run
    from asrlab.audio import corpus
    from asrlab.decoding.options import preset as decode_preset
    from asrlab.decoding.trace import render_text
    from asrlab.lab.summaries import markdown_table

    t0 = time.perf_counter()
    try:
        samples, label = corpus.load_source(source, length_s=length_s, noise_seed=noise_seed)
        names = None if remedies is None else [n.strip() for n in remedies.split(",") if n.strip()]
        loaded, load_s = _load(model, decode_preset("incident", compute_type=compute_type))
        found = run(loaded, samples, label=label, base=preset, remedies=names)
    except AsrlabError as e:
        fail(e)
        return
    wall_s = time.perf_counter() - t0
    if as_json:
        blob = {"source": label, "base": preset, "speech_share": found.speech_share}
        blob |= {"verdict": found.verdict, "rows": found.rows.to_dict(orient="records")}
        blob["seconds"] = wall_s
        typer.echo(json.dumps(blob, indent=2, ensure_ascii=False, default=str))
        return
    title = f"== {label} | {preset} | {model} {compute_type} | model load {load_s:.1f} s"
    typer.echo(render_text(found.trace, title=title))
    typer.echo(f"\n== every remedy and peer on {label} (one row per distinct decode)\n")
    typer.echo(markdown_table(found.table()))
    typer.echo(f"\nverdict: {found.verdict}")
    typer.echo(f"diagnosed in {wall_s:.1f} s ({len(found.rows)} decodes, model load included)")


def _on_references(
    references: str,
    language: str | None,
    max_items: int | None,
    base: str,
    remedies: str | None,
    model: str,
    compute_type: str,
) -> None:
    from asrlab.analysis.diagnose import on_references
    from asrlab.audio import evalsets
    from asrlab.decoding.options import preset as decode_preset
    from asrlab.lab.summaries import markdown_table

    t0 = time.perf_counter()
    try:
        spec = references if language is None else f"{language}:{references}"
        items = evalsets.parse(spec).items(max_items)
        names = ["recommended", "batched"] if remedies is None else remedies.split(",")
        loaded, load_s = _load(model, decode_preset("incident", compute_type=compute_type))
        table = on_references(loaded, items, base=base, remedies=[n.strip() for n in names])
    except AsrlabError as e:
        fail(e)
        return
    typer.echo(f"== {spec}: {len(items)} utterances | base {base} | {model} {compute_type}\n")
    typer.echo(markdown_table(table.round(3)))
    typer.echo(
        f"\nd_points: the remedy's error rate minus {base}'s on the same utterances, in points;"
        " low/high: its paired 95 % bootstrap interval."
    )
    typer.echo(f"diagnosed in {time.perf_counter() - t0:.1f} s (model load {load_s:.1f} s)")
