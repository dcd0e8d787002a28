"""The peer deployment `asrlab drive` is compared with: faster-whisper-server on loopback.

faster-whisper-server (PyPI 0.0.3, MIT; the optional extra ``peers``, `make peers`) is a small
OpenAI-compatible FastAPI server around faster-whisper, as many deployments are. `run_peer` starts
it as a subprocess on the lab's own model folder (no network), with the decode options of a lab
preset, so a drive against it and one against `asrlab serve` decode alike and differ in what the
servers do around the decode. What it does is read from its source (0.0.3):

- Its form names the model ``model_name`` (OpenAI's ``model`` is ignored); started from a config
  file it answers only names the file lists: ours lists `PEER_MODEL`, the name OpenAI's examples
  send, and the driver sends both fields.
- It loads the model lazily, at the first request, while ``/health`` says ok from the start:
  `run_peer` sends one warm-up request before it hands the server over.
- It decodes on its event loop (one request at a time, ``/health`` frozen meanwhile), with no
  timeout, no 429 or 503, and a 500 for audio it cannot read.

The server is never imported here: it runs in its own interpreter, stopped by its pid.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import httpx
import yaml

from asrlab.decoding.models import SERVICE_COMPUTE_TYPE, resolve
from asrlab.decoding.options import DecodeConfig, default_threads
from asrlab.endpoint.process import stop
from asrlab.errors import AsrlabError

MODULE: Final = "faster_whisper_server"
PEER_MODEL: Final = "whisper-1"
LABEL: Final = "peer:faster-whisper-server"  # the drive's rows' ``remedy`` (the peer has none)
WARM_UP: Final = Path(__file__).resolve().parent.parent / "data" / "audio" / "jfk.flac"
STOP_WITHIN_S: Final = 10.0  # SIGTERM's grace before SIGKILL


@dataclass(frozen=True)
class PeerServer:
    """A running peer: its base ``url`` and its process's ``pid``."""

    url: str
    pid: int


def peer_config_yaml(model_path: str, decode: DecodeConfig, cpu_threads: int) -> str:
    """The peer's config file: one model, `PEER_MODEL`, loaded from ``model_path`` on the CPU
    in the service's compute type, transcribing with ``decode``'s options (the lab's own
    fields left out, as `DecodeConfig.transcribe_kwargs` leaves them)."""
    config = {
        "models": [
            {
                "name": PEER_MODEL,
                "path": model_path,
                "model_options": {
                    "device": "cpu",
                    "compute_type": SERVICE_COMPUTE_TYPE,
                    "cpu_threads": cpu_threads,
                },
                "transcribe_options": decode.transcribe_kwargs(),
            }
        ]
    }
    return yaml.safe_dump(config, sort_keys=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (bound and closed: the peer binds it itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def run_peer(
    model: str,
    *,
    decode: DecodeConfig,
    port: int = 0,
    cpu_threads: int | None = None,
    ready_within_s: float = 300.0,
) -> Iterator[PeerServer]:
    """``with run_peer("base", decode=preset("incident")) as peer:`` faster-whisper-server on
    127.0.0.1 (``port`` 0: a free one), its model loaded (one jfk.flac answered); stopped on
    exit, SIGTERM then SIGKILL, by its pid.

    Raises:
        AsrlabError: the package is not installed (`make peers`), or the server exited or did
            not answer within ``ready_within_s``.
    """
    import importlib.util

    if importlib.util.find_spec(MODULE) is None:
        raise AsrlabError(f"{MODULE} is not installed: make peers (pip install -e '.[peers]')")
    threads = cpu_threads if cpu_threads is not None else default_threads()
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="asrlab-peer-") as folder:
        config = Path(folder) / "peer.yaml"
        config.write_text(peer_config_yaml(resolve(model), decode, threads))
        log = (Path(folder) / "peer.log").open("w+")
        args = [sys.executable, "-m", MODULE, "--config", str(config), "--host", "127.0.0.1"]
        process = subprocess.Popen(
            [*args, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(url, process, ready_within_s, log)
            yield PeerServer(url, process.pid)
        finally:
            stop(process, STOP_WITHIN_S)
            log.close()


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], within_s: float, log: IO[str]
) -> None:
    """/health, then one transcription: the model is loaded when it is answered."""
    deadline = time.monotonic() + within_s
    while True:
        if process.poll() is not None:
            raise AsrlabError(f"{MODULE} exited {process.returncode}: {_tail(log)}")
        try:
            if httpx.get(f"{url}/health", timeout=5.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AsrlabError(f"{MODULE} did not answer /health within {within_s:.0f} s")
        time.sleep(0.2)
    warm = httpx.post(
        f"{url}/v1/audio/transcriptions",
        files={"file": (WARM_UP.name, WARM_UP.read_bytes())},
        data={"model_name": PEER_MODEL, "model": PEER_MODEL},
        timeout=max(1.0, deadline - time.monotonic()),
    )
    if warm.status_code != 200:
        raise AsrlabError(f"{MODULE}'s warm-up answered {warm.status_code}: {warm.text[:300]}")


def _tail(log: IO[str], chars: int = 2000) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-chars:]
