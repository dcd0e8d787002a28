"""``asrlab sweep`` and ``asrlab compare``: experiments run as sweeps, and two runs compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from asrlab.cli.app import fail
from asrlab.errors import AsrlabError


def run_experiment(
    file: Annotated[Path, typer.Argument(help="Experiment YAML (see experiments/README.md).")],
    jobs: Annotated[
        int, typer.Option(help="Points run at once (lowered so points x cpu_threads <= cores).")
    ] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: RUNS_ROOT/<name>/<timestamp>).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Re-execute points found in the cache.")] = False,
    runs_root: Annotated[
        Path, typer.Option(help="Parent of the run folders and of the cache (.cache/).")
    ] = Path("runs"),
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run the points on a Dask cluster: tcp://HOST:PORT, or `local` (a LocalCluster "
            "of --jobs workers). A remote cluster's workers need the run folder on a shared "
            "filesystem at the same path, and the same asrlab install."
        ),
    ] = None,
) -> None:
    """Run FILE's grid of notebook points, cached; exit 1 if any point failed, 2 on a bad file."""
    from asrlab.lab.experiment import load_experiment
    from asrlab.lab.sweep import run_sweep

    try:
        experiment = load_experiment(file)
        result = run_sweep(
            experiment,
            jobs=jobs,
            out_dir=out,
            force=force,
            runs_root=runs_root,
            scheduler=scheduler,
        )
    except AsrlabError as e:
        fail(e)
    else:
        typer.echo(result.summary())
        if result.n_failed:
            raise typer.Exit(1)


def compare_two_runs(
    run_a: Annotated[Path, typer.Argument(help="The baseline run folder (last night's).")],
    run_b: Annotated[Path, typer.Argument(help="The run checked; the table joins its report.")],
    out: Annotated[
        Path | None, typer.Option(help="Also write the table (Markdown) to this file.")
    ] = None,
) -> None:
    """Flag RUN_B's points slower or worse than RUN_A's beyond the noise between repeats.

    Exit 1 on a regression, 2 on a folder that is not a run or no point in common.
    """
    from asrlab.lab.compare import compare_runs
    from asrlab.lab.reports import write_comparison

    try:
        comparison = compare_runs(run_a, run_b)
        write_comparison(comparison, out)
    except AsrlabError as e:
        fail(e)
    else:
        typer.echo(comparison.markdown())
        if comparison.regressions:
            raise typer.Exit(1)
