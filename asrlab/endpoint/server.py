"""`asrlab serve`'s process: the app (`asrlab.endpoint.app`) on uvicorn, on its own socket.

The socket is bound before uvicorn starts, so ``port=0`` gets an ephemeral port that is known at
once: the line ``asrlab serve: listening on http://HOST:PORT`` says it (a test or a script reads
it). uvicorn runs on the asyncio loop and h11 whatever else is installed (uvloop, httptools), so
every environment serves alike.
"""

from __future__ import annotations

import contextlib
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType

import uvicorn

from asrlab.endpoint.answer import Drain
from asrlab.endpoint.app import AppConfig, create_app
from asrlab.endpoint.host import ServiceHost
from asrlab.errors import AsrlabError
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
    of it (exit 143); SIGTERM is how a server is asked to stop, so a drained one exits 0.

    The signal also begins the app's drain: requests that still arrive are answered 503
    ``shutting_down``, those in flight have ``grace_s`` to finish (uvicorn waits for them), then
    are cancelled and answered 503; the lifespan's end then stops the workers."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.drain.begin()
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


def _uvicorn_config(app: object, config: ServeConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        loop="asyncio",
        http="h11",
        lifespan="on",
        log_level="warning",
        # The drain cancels what is left at grace_s; a cancelled job ends within a lease wait.
        timeout_graceful_shutdown=math.ceil(config.grace_s) + 10,
    )


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _host(config: ServeConfig) -> ServiceHost:
    return ServiceHost(config.settings, n_workers=config.app.workers)


def serve(config: ServeConfig) -> None:
    """Serve until SIGINT or SIGTERM; the service's workers are ended on the way out."""
    drain = Drain(config.grace_s)
    app = create_app(_host(config), config.app, drain=drain)
    sock = bind(config.host, config.port)
    print(f"{LISTENING} {_url(sock)}", flush=True)
    try:
        _Server(_uvicorn_config(app, config), drain).run(sockets=[sock])
    finally:
        sock.close()
        sys.stdout.flush()


@dataclass(frozen=True)
class RunningServer:
    """A server `serve_in_thread` runs: its ``url`` and its ``host`` (the in-process service,
    whose ``node`` a benchmark may also call directly)."""

    url: str
    host: ServiceHost


@contextlib.contextmanager
def serve_in_thread(
    config: ServeConfig, *, ready_within_s: float = 300.0
) -> Iterator[RunningServer]:
    """``with serve_in_thread(config) as server:`` the same server in a thread of this process
    (benchmarks, the HTTP replay, notebooks), ready (/health 200) when entered; stopped, its
    workers ended, on exit. No signal handlers: only the main thread may install them."""
    host, drain = _host(config), Drain(config.grace_s)
    sock = bind(config.host, config.port)
    server = uvicorn.Server(_uvicorn_config(create_app(host, config.app, drain=drain), config))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="asrlab-serve", daemon=True
    )
    thread.start()
    try:
        end = time.monotonic() + ready_within_s
        while not host.ready():
            failed = host.failure()
            if failed is not None or not thread.is_alive():
                raise AsrlabError(f"asrlab serve could not start: {failed or 'server exited'}")
            if time.monotonic() > end:
                raise AsrlabError(f"asrlab serve not ready within {ready_within_s:.0f} s")
            time.sleep(0.05)
        yield RunningServer(_url(sock), host)
    finally:
        drain.begin()
        server.should_exit = True
        thread.join(config.grace_s + 60)
        sock.close()
