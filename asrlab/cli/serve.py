"""``asrlab serve``: the lab's node behind an OpenAI-compatible endpoint (`asrlab.endpoint`).

Registered on the app by `asrlab.cli.main`, as every command is.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from asrlab.cli.app import fail
from asrlab.errors import AsrlabError, ConfigError


def serve_command(
    remedy: Annotated[
        str, typer.Option(help="Remedy the node runs (`asrlab presets`; service.remedies).")
    ] = "recommended",
    model: Annotated[str, typer.Option(help="Model name or folder (`asrlab models`).")] = "base",
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one (printed).")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (devices) behind the arbiter, one lease each.")
    ] = 1,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest upload; more is answered 413.")
    ] = 25.0,
    queue: Annotated[
        int, typer.Option(help="Requests that may wait beside the running ones; more: 429.")
    ] = 8,
    grace_s: Annotated[
        float,
        typer.Option("--grace-s", help="After SIGTERM, in-flight requests may finish this long."),
    ] = 30.0,
    asr_timeout_s: Annotated[
        float | None, typer.Option("--asr-timeout-s", help="Override the remedy's ASR timeout.")
    ] = None,
    segments_timeout_s: Annotated[
        float | None,
        typer.Option("--segments-timeout-s", help="Override the remedy's segments guard."),
    ] = None,
    hold_max_ms: Annotated[
        float | None, typer.Option("--hold-max-ms", help="A lease held longer is overdue.")
    ] = None,
    acquire_timeout_ms: Annotated[
        float | None,
        typer.Option("--acquire-timeout-ms", help="How long a job may wait for a lease."),
    ] = None,
    worker_threads: Annotated[
        int | None, typer.Option("--worker-threads", help="CPU threads per worker (0: per core).")
    ] = None,
    compute_type: Annotated[
        str | None, typer.Option("--compute-type", help="CTranslate2 compute type.")
    ] = None,
    usage: Annotated[
        str | None,
        typer.Option(help="What the arbiter samples for GPU_USAGE_HIGH (off, auto, nvml, cpu...)."),
    ] = None,
) -> None:
    """Serve OpenAI's POST /v1/audio/transcriptions from the lab's node, with /health, /metrics,
    a status page at /, and the lab's state at /v1/lab/state."""
    from asrlab.endpoint.app import AppConfig
    from asrlab.endpoint.server import ServeConfig, serve
    from asrlab.service.settings import ServiceSettings

    overrides = {
        "asr_timeout_s": asr_timeout_s,
        "segments_timeout_s": segments_timeout_s,
        "hold_max_ms": hold_max_ms,
        "acquire_timeout_ms": acquire_timeout_ms,
        "worker_threads": worker_threads,
        "compute_type": compute_type,
        "usage": usage,
    }
    try:
        _check_limits(port=port, workers=workers, queue=queue, max_upload_mb=max_upload_mb,
                      grace_s=grace_s)  # fmt: skip
        settings = ServiceSettings(
            model=model,
            remedy=remedy,
            capacity=workers,  # one lease per device
            **{k: v for k, v in overrides.items() if v is not None},  # type: ignore[arg-type]
        )
        config = ServeConfig(
            settings=settings,
            app=AppConfig(max_upload_mb=max_upload_mb, workers=workers, queue=queue),
            host=host,
            port=port,
            grace_s=grace_s,
        )
    except AsrlabError as e:
        fail(e)
        return
    if not _loopback(host):
        typer.secho(
            f"warning: listening on {host}, not loopback: anyone who can reach it may send "
            "audio, with no authentication",
            fg=typer.colors.YELLOW,
            err=True,
        )
    serve(config)


def _check_limits(
    *, port: int, workers: int, queue: int, max_upload_mb: float, grace_s: float
) -> None:
    checks = [
        ("port", port, 0 <= port <= 65535, "must be 0 (any free port) or 1-65535"),
        ("workers", workers, workers >= 1, "must be >= 1"),
        ("queue", queue, queue >= 0, "must be >= 0"),
        ("max_upload_mb", max_upload_mb, max_upload_mb > 0, "must be > 0 MB"),
        ("grace_s", grace_s, grace_s >= 0, "must be >= 0 s"),
    ]
    for name, value, ok, why in checks:
        if not ok:
            raise ConfigError(name, value, why)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: loopback if every address it resolves to is
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return all(ipaddress.ip_address(str(i[4][0])).is_loopback for i in infos)
