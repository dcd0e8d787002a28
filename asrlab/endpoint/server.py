"""`asrlab serve`'s process: the app (`asrlab.endpoint.app`) on uvicorn, on its own socket.

The socket is bound before uvicorn starts, so ``port=0`` gets an ephemeral port that is known at
once: the line ``asrlab serve: listening on http://HOST:PORT`` says it (a test or a script reads
it). uvicorn runs on the asyncio loop and h11 whatever else is installed (uvloop, httptools), so
every environment serves alike.
"""

from __future__ import annotations

import signal
import socket
import sys
from dataclasses import dataclass, field
from types import FrameType

import uvicorn

from asrlab.endpoint.app import AppConfig, ServiceHost, create_app
from asrlab.service.settings import ServiceSettings

LISTENING = "asrlab serve: listening on"


@dataclass(frozen=True)
class ServeConfig:
    """Where and what `serve` serves: the service (`ServiceSettings`) and the app's limits."""

    settings: ServiceSettings = field(default_factory=ServiceSettings)
    app: AppConfig = field(default_factory=AppConfig)
    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port, printed on the listening line
    grace_s: float = 30.0  # in-flight requests may finish this long after a SIGTERM


class _Server(uvicorn.Server):
    """uvicorn re-raises a signal it caught once it has shut down, so a SIGTERM'd server would die
    of it (exit 143); SIGTERM is how a server is asked to stop, so a drained one exits 0."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM and sig in self._captured_signals:
            self._captured_signals.remove(sig)


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(config: ServeConfig) -> None:
    """Serve until SIGINT or SIGTERM; the service's workers are ended on the way out."""
    app = create_app(ServiceHost(config.settings), config.app)
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    uv = uvicorn.Config(
        app,
        loop="asyncio",
        http="h11",
        lifespan="on",
        log_level="warning",
        timeout_graceful_shutdown=int(config.grace_s) + 5,
    )
    print(f"{LISTENING} http://{host}:{port}", flush=True)
    try:
        _Server(uv).run(sockets=[sock])
    finally:
        sock.close()
        sys.stdout.flush()
