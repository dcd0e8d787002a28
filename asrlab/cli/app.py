"""The ``asrlab`` application object, and the one way a command fails: a line and exit 2.

`asrlab.cli.main` registers every command on `app`; the command modules use `fail`.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="asrlab: why a faster-whisper service misbehaves, measured from real parts.",
)


def _print_version(asked: bool) -> None:
    if asked:
        from asrlab import __version__, provenance

        typer.echo(f"asrlab {__version__} ({provenance.code_version()})")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """asrlab: why a faster-whisper service misbehaves, measured from real parts."""


def fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)
