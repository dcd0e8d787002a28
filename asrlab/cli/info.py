"""``asrlab models`` and ``asrlab presets``: what this install has and what the presets set."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer


def list_models() -> None:
    """The embedded models and where they resolve on this machine."""
    from asrlab.decoding import models as m

    for name, where in m.available().items():
        typer.echo(f"{name:<8} {where}")
    placement = m.placement()
    typer.echo(f"device auto -> {placement.device} / {placement.compute_type}")


def list_presets() -> None:
    """The named decode presets and their fields, then the remedies and what each changes."""
    from asrlab.decoding.options import PRESETS
    from asrlab.service.remedies import RECOMMENDED_FROM, RECOMMENDED_WHY, REMEDIES

    for name, cfg in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(asdict(cfg))}")
    width = max(len(name) for name in REMEDIES)
    typer.echo("\n`asrlab transcribe --remedy NAME`, `asrlab reproduce --remedies NAME ...`")
    for title, peer in (("remedies", False), ("peers (what a remedy must beat)", True)):
        typer.echo(f"\n{title}:")
        for name, chosen in REMEDIES.items():
            if chosen.peer == peer and name != "recommended":
                typer.echo(f"  {name:<{width}}  {chosen.why}")
    typer.echo(f"\nrecommended = {RECOMMENDED_FROM}\n  why: {RECOMMENDED_WHY}")
    from asrlab.analysis.scoreboard import bundled_pick, pick_lines

    run, table = bundled_pick()
    typer.echo(f"  chosen on: {run}")
    for line in pick_lines(table):
        typer.echo(f"  {line}")
