"""``asrlab sweep`` and ``asrlab compare``: experiments run as sweeps, and two runs compared.
"""

from __future__ import annotations

import signal
import threading
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
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Finish an interrupted run of FILE in this run folder: its finished points are "
            "kept, the others run again, and sweep.json and the report are written at the end."
        ),
    ] = None,
) -> None:
    """Run FILE's grid of notebook points, cached; exit 1 if any point failed, 2 on a bad file.

    Ctrl-C or SIGTERM stops it: every point it started is killed (exit 130 / 143), and
    ``--resume RUN_DIR`` finishes the run later.
    """
    from asrlab.lab.experiment import load_experiment
    from asrlab.lab.sweep import run_sweep

    # SIGTERM unwinds like Ctrl-C, so the runner's cleanup kills the points it started.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    try:
        experiment = load_experiment(file)
        result = run_sweep(
            experiment,
            jobs=jobs,
            out_dir=out,
            force=force,
            runs_root=runs_root,
            scheduler=scheduler,
            resume=resume,
        )
    except AsrlabError as e:
        fail(e)
    else:
        typer.echo(result.summary())
        if result.n_failed:
            raise typer.Exit(1)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


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


def list_runs(
    runs_root: Annotated[
        Path, typer.Option(help="The folder sweeps write their runs into.")
    ] = Path("runs"),
) -> None:
    """The runs under RUNS_ROOT, newest first; writes RUNS_ROOT/index.html linking every report."""
    from asrlab.lab.reports import list_runs as found
    from asrlab.lab.reports import write_index

    runs = found(runs_root)
    for r in runs:
        wall = "" if r["wall_s"] is None else f"{r['wall_s']:.0f} s"
        typer.echo(
            f"{r['experiment']:<14} {r['started']:<24} {r['state']:<11} "
            f"{r['ok']}/{r['points']} ok, {r['failed']} failed  {r['code_version']:<16} "
            f"{wall:>7}  {r['folder']}"
        )
    if not runs_root.is_dir():
        fail(FileNotFoundError(f"{runs_root}: no runs folder (run `asrlab sweep FILE` first)"))
    typer.echo(f"{len(runs)} runs; index: {write_index(runs_root)}")
