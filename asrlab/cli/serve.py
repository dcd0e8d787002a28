"""``asrlab serve``: the lab's node behind an OpenAI-compatible endpoint (`asrlab.endpoint`).

Registered on the app by `asrlab.cli.main`, as every command is.
"""

from __future__ import annotations

from typing import Annotated

import typer

from asrlab.cli.app import fail
from asrlab.errors import AsrlabError


def serve_command(
    remedy: Annotated[
        str, typer.Option(help="Remedy the node runs (`asrlab presets`; service.remedies).")
    ] = "recommended",
    model: Annotated[str, typer.Option(help="Model name or folder (`asrlab models`).")] = "base",
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one (printed).")] = 8000,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest upload; more is answered 413.")
    ] = 25.0,
    queue: Annotated[
        int, typer.Option(help="Requests that may wait beside the running one; more: 429.")
    ] = 8,
) -> None:
    """Serve POST /v1/audio/transcriptions (OpenAI's API) and GET /health from the lab's node."""
    from asrlab.endpoint.app import AppConfig
    from asrlab.endpoint.server import ServeConfig, serve
    from asrlab.service.settings import ServiceSettings

    try:
        config = ServeConfig(
            settings=ServiceSettings(model=model, remedy=remedy),
            app=AppConfig(max_upload_mb=max_upload_mb, queue=queue),
            host=host,
            port=port,
        )
    except AsrlabError as e:
        fail(e)
        return
    serve(config)
