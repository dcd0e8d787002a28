"""The ``asrlab`` application object, and the one way a command fails: a line and exit 2.

`asrlab.cli.main` registers every command on `app`; the command modules use `fail`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="asrlab: why a faster-whisper service misbehaves, measured from real parts.",
)


def fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)
