"""``asrlab reproduce``: the incident end to end on this machine, in two scenarios.

What is replayed is an experiment (experiments/incident.yaml: the notebook, the scenarios' job A
and the remedies), so the command knows no notebook by name. Per scenario it first decodes job A
alone, as `asrlab explain` does (the trace is printed), and scales every threshold to that decode
(`asrlab.service.scaling`; ``--absolute`` keeps the incident's values); then it replays the
incident under each remedy as one sweep (`asrlab.lab.sweep`: the points run one at a time, with
the cache, the run folder, sweep.json, report.html, and so `asrlab compare` of two replays), and
prints per scenario the scale and one compact table of what became of jobs A and B, within 120
columns (`asrlab.lab.incident`: the same table opens the run's report.html).

``--http`` replays every point over the wire (the notebook's ``transport`` "http",
`asrlab.endpoint.replay`): each replay serves its service on loopback and posts A and B with an
HTTP client, and the command prints, under the table, the status, ``Retry-After`` and message
each client got. The server decodes uploads to 16-bit PCM, so job A is calibrated on the
int16-quantized audio the server will decode, not on the float samples.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from asrlab.cli.app import fail
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
    absolute: Annotated[
        bool,
        typer.Option(
            "--absolute", help="Keep the incident's absolute thresholds (no calibration)."
        ),
    ] = False,
    traces: Annotated[
        bool,
        typer.Option("--traces/--no-traces", help="Print job A's decode trace per scenario."),
    ] = True,
    runs_root: Annotated[
        Path, typer.Option(help="Where the sweep keeps its cache (.cache/).")
    ] = Path("runs"),
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Post jobs A and B to `asrlab serve` on loopback with an HTTP client "
            "(each replay its own server), and print the status each client got.",
        ),
    ] = False,
) -> None:
    """The incident end to end: job A's decode per scenario, then the replay per remedy."""
    try:
        run_replays(
            experiment, model, remedies, out, absolute=absolute, traces=traces,
            runs_root=runs_root, transport="http" if http else "inproc",
        )  # fmt: skip
    except AsrlabError as e:
        fail(e)


def replay_points(
    experiment: str, model: str, remedies: str | None, transport: str = "inproc"
) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    """The experiment (`lab.experiment.Experiment`) and, per scenario (``"noise"``: job A a
    stress signal; ``"speech"``: hard speech), one parameter set per remedy, each with
    ``model``. ``remedies`` (comma-separated names or ``all``) replaces the experiment's list;
    unknown names are refused before anything runs. ``transport`` "http" is set on every point
    (the in-process default is left out, so those points keep their cache keys)."""
    from asrlab.lab.experiment import find_experiment, load_experiment
    from asrlab.lab.incident import scenario_of
    from asrlab.service import remedies as presets

    spec = load_experiment(find_experiment(experiment))
    over = {"model": model} | ({} if transport == "inproc" else {"transport": transport})
    points = [p.params | over for p in spec.points() if p.repeat == 0]
    if remedies is not None:
        names = list(presets.REMEDIES) if remedies == "all" else remedies.split(",")
        firsts = {_job_a(p): p for p in reversed(points)}  # the first point of each scenario
        points = [p | {"remedy": name} for p in firsts.values() for name in names]
    scenarios: dict[str, list[dict[str, Any]]] = {}
    for params in points:
        presets.remedy(params["remedy"])  # refuse an unknown name before anything runs
        _replay_config(params)  # and a bad transport (or any other field)
        scenarios.setdefault(scenario_of(params.get("a_source", "pink_noise")), []).append(params)
    return spec, dict(sorted(scenarios.items(), key=lambda kv: kv[0] != "noise"))


def _job_a(params: dict[str, Any]) -> tuple[Any, Any]:
    return params.get("a_source"), params.get("a_noise_seed")


def _replay_config(params: dict[str, Any]) -> Any:
    """The `ReplayConfig` of one point's notebook parameters (the ones it has fields for)."""
    from asrlab.service.replay import ReplayConfig

    fields = ReplayConfig.__dataclass_fields__
    return ReplayConfig(**{k: v for k, v in params.items() if k in fields})


@functools.cache
def _model(name: str, compute_type: str) -> tuple[Any, float]:
    """One load per model for the whole command: both scenarios decode with it."""
    from asrlab.cli.transcribe import _load
    from asrlab.decoding.options import preset

    return _load(name, preset("incident", compute_type=compute_type))


def measure_job_a(params: dict[str, Any], *, show: bool) -> float:
    """Job A of a scenario decoded alone, in this process, as the replay's worker decodes it
    (its model and compute type, the incident preset, sampler seed 0): the decode's seconds.
    Over HTTP the worker decodes what the server decoded from the upload: A quantized to 16
    bits (`asrlab.endpoint.replay.quantized`), which may climb the fallback ladder differently
    from the float samples."""
    from asrlab.cli.transcribe import trace_one
    from asrlab.decoding.options import preset

    a = _replay_config(params)
    config = preset("incident", seed=0, compute_type=a.compute_type)
    loaded, load_s = _model(a.model, a.compute_type)
    if a.transport == "http":
        return _measure_quantized(a, loaded, config, load_s, show=show)
    result = trace_one(
        a.a_source,
        loaded,
        config,
        preset_name="incident",
        length_s=a.a_length_s,
        noise_seed=a.a_noise_seed,
        load_s=load_s,
        show_trace=show,
        as_json=False,
        echo=show,
    )
    return float(result["summary"]["wall_s"])


def _measure_quantized(a: Any, loaded: Any, config: Any, load_s: float, *, show: bool) -> float:
    """`measure_job_a` of the samples the server will decode from A's upload."""
    from asrlab.audio import corpus
    from asrlab.decoding.trace import render_text
    from asrlab.endpoint.replay import quantized

    samples, label = corpus.load_source(
        a.a_source, length_s=a.a_length_s, noise_seed=a.a_noise_seed
    )
    trace = loaded.run(quantized(samples), config)
    if show:
        title = (
            f"== {label}, as served (16-bit upload) | preset incident (beam {config.beam_size}, "
            f"sampler seed {config.seed}) | model load {load_s:.1f} s (not counted below)"
        )
        typer.echo(render_text(trace, title=title))
    return float(trace.wall_s)


def run_replays(
    experiment: str,
    model: str,
    remedies: str | None,
    out: Path,
    *,
    absolute: bool = False,
    traces: bool = True,
    runs_root: Path = Path("runs"),
    transport: str = "inproc",
) -> Path:
    """Calibrate every scenario, replay them all as one sweep; print the answer per scenario
    and write summary.csv (every column of each replay's line) beside the sweep's
    results.parquet, sweep.json and report. ``transport`` "http": every replay over the wire,
    and the answers each client got printed under the table."""
    import pandas as pd

    from asrlab.lab import incident
    from asrlab.lab.experiment import canonical
    from asrlab.lab.sweep import run_sweep
    from asrlab.service.scaling import scale_for

    spec, scenarios = replay_points(experiment, model, remedies, transport)
    t0 = time.perf_counter()
    measured: dict[str, float | None] = {}
    for scenario, points in scenarios.items():
        measured[scenario] = None if absolute else measure_job_a(points[0], show=traces)
    scales = {name: 1.0 if s is None else scale_for(s) for name, s in measured.items()}
    by_scenario = {
        name: [params | {"threshold_scale": scales[name]} for params in points]
        for name, points in scenarios.items()
    }
    calibrated = [params for points in by_scenario.values() for params in points]
    sweep = _as_sweep(spec, calibrated)
    run_dir = out / time.strftime("%Y%m%d-%H%M%S")
    result = run_sweep(sweep, out_dir=run_dir, runs_root=runs_root)
    by_params = {canonical(o.point.params): o for o in result.outcomes}
    lines = [
        _line(scenario, by_params[canonical(params)], run_dir)
        for scenario, points in by_scenario.items()
        for params in points
    ]
    pd.DataFrame(lines).to_csv(run_dir / "summary.csv", index=False)
    typer.echo(incident.terminal(result.results))  # what report.html opens with
    if transport == "http":
        typer.echo(wire_answers(lines))
    typer.echo(
        f"{len(calibrated)} replays in {time.perf_counter() - t0:.0f} s "
        f"({result.n_run} run, {result.n_cached} cached); executed notebooks, HTML, figures, "
        f"results.parquet, report.html and summary.csv under {run_dir}"
    )
    return run_dir


def _as_sweep(spec: Any, points: list[dict[str, Any]]) -> Any:
    """The replays as one experiment: every point one entry of a zip over its parameters."""
    from asrlab.lab.experiment import parse_experiment

    names = sorted({k for p in points for k in p})
    grid = {"zip": {k: [p.get(k) for p in points] for k in names}}
    blob = {"name": spec.name, "description": spec.description, "notebook": str(spec.notebook)}
    return parse_experiment(blob | {"grid": grid, "timeout_s": spec.timeout_s})


def _line(scenario: str, outcome: Any, run_dir: Path) -> dict[str, Any]:
    """One replay's summary line, from its point's own rows (the notebook's columns)."""
    import pandas as pd

    from asrlab.service.replay import summary

    name = outcome.point.params["remedy"]
    if outcome.status != "ok":
        return {"scenario": scenario, "remedy": name, "A": f"replay failed: {outcome.error}"}
    folder = run_dir / "points" / outcome.point.point_id
    rows = pd.read_parquet(folder / "results.parquet").assign(scenario=scenario)
    return {"scenario": scenario} | summary(rows)


def wire_answers(lines: list[dict[str, Any]]) -> str:
    """What each replay's two HTTP clients got, one line per replay: the status, B's
    ``Retry-After`` and B's message as the client read it (``asrlab.endpoint.replay``)."""
    out = ["over HTTP (asrlab serve on 127.0.0.1, one server per replay; httpx clients):"]
    for line in lines:
        head = f"  {line['scenario']:<7} {line['remedy']:<38}"
        if "B HTTP" not in line:
            out.append(f"{head} {line.get('A', '')}")
            continue
        retry = line.get("B Retry-After s")
        retry_text = "" if retry is None else f" Retry-After {retry}"
        b_says = str(line.get("B", "")).removeprefix("failed: ")
        out.append(f"{head} A {line['A HTTP']}  B {line['B HTTP']}{retry_text}  B: {b_says}")
    return "\n".join(out)
