"""The ``asrlab`` command line: transcribe with a trace, reproduce the incident, sweep, models."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from asrlab.errors import AsrlabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="asrlab: why a faster-whisper service misbehaves, measured from real parts.",
)

# `asrlab transcribe`'s generated stress signals (`asrlab explain` decodes the replay's job A).
# How far 11 s of white noise climbs the fallback ladder depends on the noise (seeds 0-6 cost 7 to
# 25 s: benchmarks/noise_ladders.py) and, through the sampled rungs, on the CPU (README.md).
INCIDENT_NOISE_S = 11.0
INCIDENT_NOISE_SEED = 6
RUNS_DIR = Path("runs/incident")
# What `make reproduce` replays (names in asrlab.remedies; `--remedies all` runs every preset).
REPRODUCE_REMEDIES = (
    "incident",
    "timeout_60_40",
    "beam_5",
    "hard_kill",
    "vad_gate",
    "no_fallback",
    "revoke_overdue",
    "deadline_aware",
    "vad_gate+hard_kill+no_fallback+beam_5",
)


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _load(model_name: str, config: Any) -> tuple[Any, float]:
    from asrlab import decoding

    t0 = time.perf_counter()
    model = decoding.load_model(
        model_name, compute_type=config.compute_type, cpu_threads=config.cpu_threads
    )
    return model, time.perf_counter() - t0


def trace_one(
    source: str,
    model: Any,
    config: Any,
    *,
    preset_name: str,
    length_s: float,
    noise_seed: int,
    load_s: float,
    show_trace: bool,
    as_json: bool,
) -> dict[str, Any]:
    """Decode one source with a trace; print the report (or JSON); return the JSON form."""
    from asrlab import corpus, models, provenance
    from asrlab.trace import render_text

    samples, label = corpus.load_source(source, length_s=length_s, noise_seed=noise_seed)
    trace = model.run(samples, config)
    result = {
        "source": label,
        "preset": preset_name,
        **trace.to_dict(),
        "provenance": provenance.record(
            model=model.name,
            model_sha256=models.sha256_of(model.model_path),
            model_load_s=load_s,
        ),
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    elif show_trace:
        title = (
            f"== {label} | preset {preset_name} (beam {config.beam_size}, sampler seed "
            f"{config.seed}) | model load {load_s:.1f} s (not counted below)"
        )
        typer.echo(render_text(trace, title=title))
    else:
        typer.echo(trace.text)
    return result


@app.command()
def transcribe(
    source: Annotated[
        str,
        typer.Argument(
            help="Audio file, corpus clip id, or stress source "
            "(white_noise, pink_noise, tone, near_silence)."
        ),
    ],
    model: Annotated[
        str, typer.Option(help="base, tiny.en, a model folder or a hub name.")
    ] = "base",
    preset: Annotated[str, typer.Option(help="Named decode preset.")] = "incident",
    beam_size: Annotated[int | None, typer.Option(help="Override the preset's beam_size.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Force a language (skips detection).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of CTranslate2's sampler.")] = 0,
    noise_seed: Annotated[
        int, typer.Option(help="Seed of a generated stress source.")
    ] = INCIDENT_NOISE_SEED,
    length_s: Annotated[
        float, typer.Option(help="Length of a generated stress source.")
    ] = INCIDENT_NOISE_S,
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="Print the stage and attempt tables.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trace as JSON.")] = False,
) -> None:
    """Transcribe SOURCE; with --trace, show where every second went."""
    overrides: dict[str, Any] = {}
    if beam_size is not None:
        overrides["beam_size"] = beam_size
    if language is not None:
        overrides["language"] = language
    from asrlab import decoding

    try:
        config = decoding.preset(preset, seed=seed, **overrides)
        loaded, load_s = _load(model, config)
        trace_one(
            source,
            loaded,
            config,
            preset_name=preset,
            length_s=length_s,
            noise_seed=noise_seed,
            load_s=load_s,
            show_trace=trace,
            as_json=as_json,
        )
    except AsrlabError as e:
        _fail(e)


@app.command()
def explain(
    model: Annotated[str, typer.Option(help="Model to decode with.")] = "base",
    seed: Annotated[int, typer.Option(help="Seed of CTranslate2's sampler.")] = 0,
    noise_seed: Annotated[
        int | None, typer.Option(help="Seed of the noise (default: the replay's job A).")
    ] = None,
) -> None:
    """Why is list(segments) slow? Traces of the replay's job A (noise) and of jfk.flac.

    Job A as `make reproduce` replays it (`asrlab.replay.ReplayConfig`: 11.2 s of pink noise,
    float32), so that the first table and the replay tell of the same decode.
    """
    from asrlab import decoding
    from asrlab.replay import ReplayConfig

    a = ReplayConfig()
    try:
        config = decoding.preset("incident", seed=seed, compute_type=a.compute_type)
        loaded, load_s = _load(model, config)
        for source in (a.a_source, "jfk"):
            trace_one(
                source,
                loaded,
                config,
                preset_name="incident",
                length_s=a.a_length_s,
                noise_seed=a.a_noise_seed if noise_seed is None else noise_seed,
                load_s=load_s,
                show_trace=True,
                as_json=False,
            )
            typer.echo("")
    except AsrlabError as e:
        _fail(e)


@app.command()
def reproduce(
    model: Annotated[str, typer.Option(help="Model the service runs.")] = "base",
    remedies: Annotated[
        str, typer.Option(help="Comma-separated remedy names, or 'all'.")
    ] = ",".join(REPRODUCE_REMEDIES),
    out: Annotated[Path, typer.Option(help="Parent folder of the run.")] = RUNS_DIR,
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
        run_replays(model, remedies, out)
    except AsrlabError as e:
        _fail(e)


def run_replays(model: str, remedies: str, out: Path) -> Path:
    """Execute notebooks/01_incident_replay.ipynb per remedy; print and write the summary."""
    import pandas as pd
    from tqdm import tqdm

    from asrlab import notebooks
    from asrlab import remedies as presets
    from asrlab.replay import summary

    names = list(presets.REMEDIES) if remedies == "all" else remedies.split(",")
    for name in names:
        presets.remedy(name)  # refuse an unknown name before anything runs
    run_dir = out / time.strftime("%Y%m%d-%H%M%S")
    t0 = time.perf_counter()
    frames, lines = [], []
    for name in tqdm(names, desc="replaying the incident", unit="remedy"):
        folder = run_dir / name.replace("+", "_")
        try:
            notebooks.execute(
                "01_incident_replay",
                folder.resolve(),
                {"model": model, "remedy": name, "output_dir": str(folder.resolve())},
            )
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
        f"\n{len(names)} replays in {time.perf_counter() - t0:.0f} s; "
        f"executed notebooks, HTML, figures and results.parquet under {run_dir}"
    )
    return run_dir


@app.command(name="sweep")
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
    from asrlab import sweep

    try:
        experiment = sweep.load_experiment(file)
        result = sweep.run_sweep(
            experiment,
            jobs=jobs,
            out_dir=out,
            force=force,
            runs_root=runs_root,
            scheduler=scheduler,
        )
    except AsrlabError as e:
        _fail(e)
    else:
        typer.echo(result.summary())
        if result.n_failed:
            raise typer.Exit(1)


@app.command(name="compare")
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
    from asrlab import compare

    try:
        comparison = compare.compare_runs(run_a, run_b)
        compare.write(comparison, out)
    except AsrlabError as e:
        _fail(e)
    else:
        typer.echo(comparison.markdown())
        if comparison.regressions:
            raise typer.Exit(1)


@app.command(name="models")
def list_models() -> None:
    """The embedded models and where they resolve on this machine."""
    from asrlab import models as m

    for name, where in m.available().items():
        typer.echo(f"{name:<8} {where}")
    placement = m.placement()
    typer.echo(f"device auto -> {placement.device} / {placement.compute_type}")


@app.command(name="presets")
def list_presets() -> None:
    """The named decode presets and their fields."""
    from asrlab.decoding import PRESETS

    for name, cfg in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(asdict(cfg))}")


from asrlab.simcli import calibrate_command, simulate_command  # noqa: E402 - after `app`

app.command(name="simulate")(simulate_command)
app.command(name="calibrate")(calibrate_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
