"""``asrlab simulate`` and ``asrlab calibrate``: the simulator and its service-time table.

Registered on the app by `asrlab.cli.main`, as every command is.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from asrlab.cli.app import fail
from asrlab.decoding.models import SERVICE_COMPUTE_TYPE
from asrlab.errors import AsrlabError, ConfigError
from asrlab.service.arbiter import INCIDENT_ACQUIRE_TIMEOUT_MS, INCIDENT_HOLD_MAX_MS


def mix_fields(text: str | None) -> dict[str, Any]:
    """``--mix`` JSON as `WorkloadConfig` fields (none if not given); `asrlab drive` reads it."""
    if text is None:
        return {}
    try:
        return {"mix": tuple(tuple(item) for item in json.loads(text))}
    except (ValueError, TypeError) as e:
        raise ConfigError("mix", text, f'not a JSON list like [["lang:en", null, 1.0]]: {e}') from e


def simulate_command(
    jobs: Annotated[int, typer.Option("--jobs", help="Jobs in the workload.")] = 1000,
    rate: Annotated[float, typer.Option(help="Mean arrivals per minute (Poisson).")] = 6.0,
    preset: Annotated[
        str, typer.Option(help="Remedy preset (service.remedies; `asrlab presets` for decode).")
    ] = "incident",
    devices: Annotated[int, typer.Option(help="Devices, each an arbiter and a worker.")] = 1,
    clients: Annotated[
        int | None, typer.Option(help="Concurrent clients (default: 4 per device).")
    ] = None,
    model: Annotated[str, typer.Option(help="Model whose measured times are drawn.")] = "base",
    compute_type: Annotated[
        str, typer.Option(help="Its compute type.")
    ] = SERVICE_COMPUTE_TYPE,
    asr_timeout_s: Annotated[
        float | None, typer.Option(help="Override the preset's ASR timeout.")
    ] = None,
    hold_max_ms: Annotated[
        float, typer.Option(help="The arbiter's hold_max.")
    ] = INCIDENT_HOLD_MAX_MS,
    acquire_timeout_ms: Annotated[
        float, typer.Option(help="Lease acquire timeout.")
    ] = INCIDENT_ACQUIRE_TIMEOUT_MS,
    capacity: Annotated[int, typer.Option(help="Leases per device.")] = 1,
    seed: Annotated[int, typer.Option(help="Seeds arrivals, mix and draws.")] = 0,
    mix: Annotated[
        str | None,
        typer.Option(help="JSON \\[source, length_s, weight] list; default: the production mix."),
    ] = None,
    table: Annotated[
        Path | None, typer.Option(help="Service-time table CSV (default: the bundled one).")
    ] = None,
    real: Annotated[
        bool,
        typer.Option(
            "--real", help="Run the same workload for real through the service (slow), instead."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write rows.parquet and summary.json into this folder.")
    ] = None,
) -> None:
    """Simulate a workload on the service's twin; print the summary a real run prints.

    The simulation keeps no rows in memory (a day of traffic, 864,000 jobs, in well under 1 GiB):
    with ``--out`` they are written to rows.parquet as they become final.
    """
    import pandas as pd

    from asrlab.sim.core import SimConfig, simulate_summary
    from asrlab.sim.costs import load
    from asrlab.workload.attribution import format_summary, summarize
    from asrlab.workload.real import run_workload
    from asrlab.workload.traffic import WorkloadConfig

    try:
        config = SimConfig(
            model=model,
            compute_type=compute_type,
            remedy=preset,
            asr_timeout_s=asr_timeout_s,
            hold_max_ms=hold_max_ms,
            acquire_timeout_ms=acquire_timeout_ms,
            capacity=capacity,
            rate_per_min=rate,
            n_jobs=jobs,
            clients=clients if clients is not None else 4 * devices,
            seed=seed,
            devices=devices,
            **mix_fields(mix),
        )
        t0 = time.perf_counter()
        rows_path = None if out is None else out / "rows.parquet"
        if real:
            if devices != 1:
                raise ConfigError("devices", devices, "a real run has one device (this machine)")
            workload = WorkloadConfig(
                **{k: getattr(config, k) for k in WorkloadConfig.__dataclass_fields__}
            )
            rows = run_workload(workload).frame()
            line = summarize(rows)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                rows.to_parquet(out / "rows.parquet")
            what = "real workload"
        else:
            chosen = load(table)
            line = simulate_summary(config, chosen, rows_path=rows_path).line
            what = f"simulated ({len(chosen)} measured rows from {table or 'the bundled table'})"
    except AsrlabError as e:
        fail(e)
        return
    seconds = time.perf_counter() - t0
    typer.echo(f"{what}: {jobs} jobs at {rate:g}/min on {devices} device(s), {seconds:.1f} s")
    typer.echo(format_summary(line))
    if out is not None:
        # As `attribution.summary_frame` gives it: the error counts as JSON text.
        out.mkdir(parents=True, exist_ok=True)
        texts = {k: json.dumps(line[k]) for k in ("errors", "error_kinds")}
        blob = pd.DataFrame([line | texts]).iloc[0].to_dict() | {"wall_s": seconds, "real": real}
        (out / "summary.json").write_text(json.dumps(blob, indent=2, default=str) + "\n")
        typer.echo(f"rows and summary under {out}")


def calibrate_command(
    preset: Annotated[
        list[str],
        typer.Option(
            "--preset", "--remedy", help="Remedy preset(s) to measure (repeat the option)."
        ),
    ] = ["incident"],  # noqa: B006 - typer reads the default, it is never mutated
    model: Annotated[str, typer.Option(help="Model to measure.")] = "base",
    compute_type: Annotated[
        str, typer.Option(help="Its compute type.")
    ] = SERVICE_COMPUTE_TYPE,
    jobs: Annotated[
        int,
        typer.Option("--jobs", help="Jobs per preset, split evenly over the mix's items."),
    ] = 40,
    seed: Annotated[
        int, typer.Option(help="Seeds the first item's jobs (item k: SEED + k).")
    ] = 1000,
    mix: Annotated[
        str | None, typer.Option(help="JSON list of \\[source, length_s, weight].")
    ] = None,
    from_run: Annotated[
        Path | None,
        typer.Option(help="Rebuild from a sweep run of workloads (04, 05) instead of measuring."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Table CSV to write.")] = Path("runs/service_times.csv"),
    merge: Annotated[
        bool, typer.Option(help="Keep OUT's rows of other services (same service: replaced).")
    ] = True,
    bundled: Annotated[
        bool,
        typer.Option(
            "--bundled",
            help="Write into the bundled table (asrlab/data/service_times.csv) instead of OUT: "
            "the remedies' rows are added, or replace those of the same service.",
        ),
    ] = False,
) -> None:
    """Measure (or rebuild from a sweep run) the service-time table the simulator draws from.

    A remedy's costs for the bundled table, measured on this machine in a few minutes (base
    float32, the production mix, every item alike; docs/results/simulator.md):

        asrlab calibrate --remedy recommended --jobs 36 --bundled

    Rows are keyed by service (model, compute type, decode options' hash, VAD gate), not by the
    remedy's name: when `recommended` names another remedy, this adds that one's rows and keeps
    the earlier pick's, which still belong to the remedy it was.
    """
    import pandas as pd

    from asrlab.sim import calibrate, costs
    from asrlab.workload.traffic import WorkloadConfig

    if bundled:
        out, merge = costs.BUNDLED, True
    try:
        if from_run is not None:
            fresh = costs.from_run(from_run)
        else:
            base = WorkloadConfig(model=model, compute_type=compute_type, **mix_fields(mix))
            fresh = pd.concat(
                [
                    calibrate.calibrate(replace(base, remedy=name), n_jobs=jobs, seed=seed)
                    for name in preset
                ],
                ignore_index=True,
            )
        table = fresh
        if merge and out.is_file():
            old = costs.load(out)
            keys = ["model", "compute_type", "decode_hash", "vad_gate"]
            mine = set(costs.groups(fresh))
            keep = [tuple(r) not in mine for r in old[keys].itertuples(index=False)]
            table = pd.concat([old[keep], fresh], ignore_index=True)
        costs.save(table, out)
    except AsrlabError as e:
        fail(e)
        return
    typer.echo(costs.describe(fresh).to_string(index=False))
    typer.echo(f"{len(fresh)} rows measured; {len(table)} rows in {out}")
