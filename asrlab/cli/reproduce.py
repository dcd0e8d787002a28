"""``asrlab reproduce``: the incident end to end, the decode traces and then the replay per remedy.

What is replayed is an experiment (experiments/incident.yaml: the notebook and the remedies), so
the command knows no notebook by name; the replays run one after another, in the YAML's order.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from asrlab.cli.app import fail
from asrlab.cli.transcribe import explain
from asrlab.errors import AsrlabError

RUNS_DIR = Path("runs/incident")
EXPERIMENT = "incident"  # experiments/incident.yaml


def reproduce(
    model: Annotated[str, typer.Option(help="Model the service runs.")] = "base",
    remedies: Annotated[
        str | None,
        typer.Option(help="Comma-separated remedy names, or 'all' (default: the experiment's)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the run.")] = RUNS_DIR,
    experiment: Annotated[
        str, typer.Option(help="Experiment YAML (a name in experiments/, or a path).")
    ] = EXPERIMENT,
    traces: Annotated[
        bool,
        typer.Option(
            "--traces/--no-traces", help="Print the decode traces first (asrlab explain)."
        ),
    ] = True,
) -> None:
    """The incident end to end: the decode traces, then the replay under each remedy."""
    if traces:
        explain(model=model, seed=0)
    try:
        run_replays(experiment, model, remedies, out)
    except AsrlabError as e:
        fail(e)


def replay_points(experiment: str, model: str, remedies: str | None) -> tuple[str, list[dict]]:
    """The experiment's notebook and one parameter set per remedy (its own list, or ``remedies``:
    comma-separated names or ``all``), every one with ``model``; an unknown name is refused."""
    from asrlab.lab.experiment import find_experiment, load_experiment
    from asrlab.service import remedies as presets

    spec = load_experiment(find_experiment(experiment))
    first = [p.params for p in spec.points() if p.repeat == 0]
    if remedies is None:
        chosen = first
    else:
        names = list(presets.REMEDIES) if remedies == "all" else remedies.split(",")
        chosen = [first[0] | {"remedy": name} for name in names]
    for params in chosen:
        presets.remedy(params["remedy"])  # refuse an unknown name before anything runs
    return str(spec.notebook), [params | {"model": model} for params in chosen]


def run_replays(experiment: str, model: str, remedies: str | None, out: Path) -> Path:
    """Execute the experiment's replay notebook per remedy; print and write the summary."""
    import pandas as pd
    from tqdm import tqdm

    from asrlab.lab import notebooks
    from asrlab.service.replay import summary

    notebook, points = replay_points(experiment, model, remedies)
    run_dir = out / time.strftime("%Y%m%d-%H%M%S")
    t0 = time.perf_counter()
    frames: list[Any] = []
    lines: list[dict[str, Any]] = []
    for params in tqdm(points, desc="replaying the incident", unit="remedy"):
        name = params["remedy"]
        folder = (run_dir / name.replace("+", "_")).resolve()
        try:
            notebooks.execute(notebook, folder, params | {"output_dir": str(folder)})
        except Exception as e:  # one failed replay must not lose the others
            lines.append({"remedy": name, "A": f"replay failed: {type(e).__name__}: {e}"})
            continue
        rows = pd.read_parquet(folder / "results.parquet")
        frames.append(rows)
        lines.append(summary(rows))
    if frames:
        pd.concat(frames, ignore_index=True).to_parquet(run_dir / "results.parquet")
    table = pd.DataFrame(lines)
    table.to_csv(run_dir / "summary.csv", index=False)
    with pd.option_context("display.max_colwidth", 48, "display.width", 250):
        typer.echo(table.to_string(index=False))
    typer.echo(
        f"\n{len(points)} replays in {time.perf_counter() - t0:.0f} s; "
        f"executed notebooks, HTML, figures and results.parquet under {run_dir}"
    )
    return run_dir
