"""``asrlab models`` and ``asrlab presets``: what this install has and what the presets set.
"""

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
    from asrlab.service.remedies import REMEDIES

    for name, cfg in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(asdict(cfg))}")
    typer.echo("\nremedies (`asrlab transcribe --remedy NAME`, `asrlab reproduce --remedies`):")
    width = max(len(name) for name in REMEDIES)
    for name, chosen in REMEDIES.items():
        typer.echo(f"  {name:<{width}}  {chosen.why}")
