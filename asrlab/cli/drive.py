"""``asrlab drive URL``: the lab's seeded workload against any OpenAI-compatible endpoint
(`asrlab.endpoint.driver`).

Registered on the app by `asrlab.cli.main`, as every command is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from asrlab.cli.app import fail
from asrlab.cli.sim import mix_fields
from asrlab.errors import AsrlabError, ConfigError


def _workload_fields(path: Path | None) -> dict[str, Any]:
    """A workload file's fields (YAML mapping of `WorkloadConfig` fields), checked by name."""
    if path is None:
        return {}
    import yaml

    from asrlab.workload.traffic import WorkloadConfig

    try:
        fields = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError("workload", str(path), f"not a readable YAML file: {e}") from e
    if not isinstance(fields, dict):
        raise ConfigError("workload", str(path), "must be a mapping of WorkloadConfig fields")
    unknown = sorted(set(fields) - set(WorkloadConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError("workload", unknown, "not WorkloadConfig fields")
    if "mix" in fields:
        fields["mix"] = tuple(tuple(item) for item in fields["mix"])
    return fields


def drive_command(
    url: Annotated[str, typer.Argument(help="The endpoint's base URL (http://127.0.0.1:8000).")],
    workload: Annotated[
        Path | None,
        typer.Option(help="YAML file of WorkloadConfig fields (n_jobs, rate_per_min, seed, mix)."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Jobs in the workload (default 20).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Mean arrivals per minute, Poisson (default 6).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seeds arrivals, mix and audio.")] = None,
    mix: Annotated[
        str | None,
        typer.Option(help="JSON \\[source, length_s, weight] list; default: the production mix."),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most.")] = 8,
    timeout_s: Annotated[float, typer.Option(help="Each request's own timeout.")] = 120.0,
    max_wall_s: Annotated[
        float | None, typer.Option(help="Bound on the whole drive; later jobs are not sent.")
    ] = None,
    model: Annotated[str, typer.Option(help="The model name the endpoint serves.")] = "whisper-1",
    label: Annotated[
        str | None, typer.Option(help="The rows' remedy where the server names none (a peer).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for rows.parquet and summary.json.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Send the lab's seeded workload to URL (POST /v1/audio/transcriptions), one request per
    job at its arrival, never retried; print jobs/min, RTFx, latency percentiles with 95 %
    intervals, failures by cause and CER/WER, and write every job's row.

    Against `asrlab serve` the rows carry the server's stages and the failures are attributed
    with its arbiter's events; against any other endpoint, with what its answers say:

        asrlab drive http://127.0.0.1:8000 --jobs 200 --concurrency 8 --rate 120 --seed 0
    """
    from asrlab.endpoint.drive_summary import format_summary
    from asrlab.endpoint.driver import DriveConfig, drive, write
    from asrlab.workload.traffic import WorkloadConfig

    chosen = {"n_jobs": jobs, "rate_per_min": rate, "seed": seed}
    try:
        fields = _workload_fields(workload) | mix_fields(mix)
        fields |= {k: v for k, v in chosen.items() if v is not None}
        config = DriveConfig(
            url=url,
            workload=WorkloadConfig(**fields),
            concurrency=concurrency,
            timeout_s=timeout_s,
            max_wall_s=max_wall_s,
            model=model,
            label=label,
        )
        result = drive(config, progress=progress)
        folder = out or Path("runs") / time.strftime("drive-%Y%m%d-%H%M%S")
        write(result, folder)
    except AsrlabError as e:
        fail(e)
        return
    typer.echo(format_summary(result.summary))
    typer.echo(f"rows, summary and events under {folder}")
