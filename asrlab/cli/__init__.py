"""The ``asrlab`` command line (typer): `asrlab.cli.main` is the entry point, one module per
group of commands beside it."""
