"""Shared fixtures, and a check that every test is marked with what it costs.

A test is marked where it is written (``@pytest.mark.model`` ...), and ``make test-fast`` leaves
out every marked test (``-m "not (model or worker or kernel or slow)"``); ``make test`` runs them
all. ``pytest --collect-only -q -m kernel`` (or any marker expression) lists a tier.

- ``model``: a Whisper model decodes, in this process or in one the test starts;
- ``worker``: the service's worker processes run;
- ``kernel``: notebooks run under papermill, a Jupyter kernel each;
- ``slow``: ten seconds or more, or a deadline asserted on the wall clock (the test waits for it).

The costly fixtures below say which markers a test that asks for them, directly or through another
fixture, must carry (`MARKS`): a test that lacks one stops the collection with the line to add,
so a new test cannot slip into the fast tier by forgetting its marker.

Heavy modules are imported inside the fixtures that need them, so collecting the fast tier loads
no decoder.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import psutil
import pytest

if TYPE_CHECKING:
    from scenarios import ReproduceRun

    from asrlab.decoding.decoder import TracedModel
    from asrlab.decoding.options import DecodeConfig
    from asrlab.decoding.trace import DecodeTrace
    from asrlab.lab.outcomes import SweepResult

pytest_plugins = ("pytester",)  # tests/test_tiers.py runs this file's check on a probe test

# fixture -> the markers every test that uses it must carry (pyproject.toml declares them).
MARKS: dict[str, tuple[str, ...]] = {
    "base_model": ("model",),
    "whisper_models": ("model",),
    "noise_trace": ("model", "slow"),
    "worker_processes": ("worker", "model"),
    "served": ("worker", "model"),  # tests/endpoint/conftest.py: `asrlab serve` on tiny.en
    "kernels": ("kernel",),
    "slow": ("slow",),
}
_GONE_WITHIN_S = 10.0  # a closed manager, pool or kernel manager has exited by then


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stop the session when a test asks for a costly fixture without carrying its marker."""
    unmarked = []
    for item in items:
        needed = {m for name in getattr(item, "fixturenames", ()) for m in MARKS.get(name, ())}
        missing = needed - {m.name for m in item.iter_markers()}
        if missing:
            lines = "".join(f"@pytest.mark.{m} " for m in sorted(missing))
            unmarked.append(f"  {item.nodeid}: add {lines.strip()}")
    if unmarked:
        raise pytest.UsageError(
            "tests that use a costly fixture (tests/conftest.py, MARKS) without its marker:\n"
            + "\n".join(sorted(set(unmarked)))
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection built (modules, test items) out of the garbage collector's sight.

    Every audio decode ends in ``gc.collect()`` (asrlab.audio.pyav_decode, faster-whisper#390),
    which walks every live object: with the whole suite imported that cost 0.1-0.2 s a decode,
    and the fast tier decodes hundreds of clips. Frozen objects are the session's own and live to
    its end anyway; what a test allocates is still collected.
    """
    gc.collect()
    gc.freeze()


def _children(matching: tuple[str, ...]) -> set[psutil.Process]:
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any(m in " ".join(child.cmdline()) for m in matching):
                found.add(child)
        except psutil.Error:  # it exited while we looked
            continue
    return found


def _no_process_left(matching: tuple[str, ...], what: str) -> Iterator[None]:
    """Yield, then fail if a process of ``what`` started meanwhile is still alive (and kill it):
    every manager, pool and kernel a test starts must be gone when the session ends."""
    before = _children(matching)
    yield
    deadline = time.monotonic() + _GONE_WITHIN_S
    left = _children(matching) - before
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = {p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE}
    for process in left:
        process.kill()
    assert not left, f"{what} still alive after the tests: {[p.pid for p in left]}"


@pytest.fixture(scope="session")
def worker_processes() -> Iterator[None]:
    """Asked for by a test that starts worker processes (a `WorkerManager`, a service, a replay,
    a workload, a sweep's pool): none of them may outlive the session."""
    yield from _no_process_left(
        ("multiprocessing.spawn", "asrlab.cli.main serve"), "spawned worker processes"
    )


@pytest.fixture(scope="session")
def kernels() -> Iterator[None]:
    """Asked for by a test that executes notebooks: no Jupyter kernel may outlive the session."""
    yield from _no_process_left(("ipykernel_launcher",), "Jupyter kernels")


@pytest.fixture(scope="session")
def whisper_models() -> dict[str, str]:
    """The embedded models' folders, for a test that decodes in a process of its own (a command,
    a worker): resolved once, so a missing model wheel fails here with its fix."""
    from asrlab.decoding import models

    return {name: models.resolve(name) for name in ("base", "tiny.en")}


@pytest.fixture(scope="session")
def slow() -> None:
    """Asked for by a fixture that takes ten seconds or more: every test that uses it must be
    marked ``slow``, or it would stretch the fast tier past its minute."""


@pytest.fixture(scope="session")
def base_model() -> TracedModel:
    from asrlab.decoding.decoder import load_model

    return load_model("base")


@pytest.fixture(scope="session")
def incident() -> DecodeConfig:
    from asrlab.decoding.options import preset

    return preset("incident")


@pytest.fixture(scope="session")
def noise() -> np.ndarray:
    """The incident's clip: the replay's job A (`ReplayConfig`: 11.2 s of pink noise, seed 3).

    How far a clip climbs the ladder is decided by the sampled rungs, so it moves with the CPU's
    arithmetic as much as with the sampler seed: the white noise (seed 6) the suite used before
    stopped at 0.2 on the AMD lab machines (10 s) after walking the ladder on others. This clip,
    in int8, took 4-6 rungs (19-26 s) for each of sampler seeds 0-7 on them.
    """
    from asrlab.audio import corpus
    from asrlab.service.replay import ReplayConfig

    job_a = ReplayConfig()
    samples, _ = corpus.load_source(
        job_a.a_source, length_s=job_a.a_length_s, noise_seed=job_a.a_noise_seed
    )
    return samples


@pytest.fixture(scope="session")
def noise_trace(base_model: TracedModel, incident: DecodeConfig, noise: np.ndarray) -> DecodeTrace:
    """The noise decoded in-process at the incident preset: the slow path (tens of seconds)."""
    return base_model.run(noise, incident)


@pytest.fixture(scope="session")
def jfk_trace(base_model: TracedModel, incident: DecodeConfig) -> DecodeTrace:
    from asrlab.audio import corpus

    return base_model.run(corpus.get("jfk").load(), incident)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory, kernels: None, slow: None) -> SweepResult:
    """The smoke sweep on tiny.en (tests/scenarios.py) on the local pool, run once a session:
    its run folder is ``<runs_root>/smoke/<timestamp>``, its cache ``<runs_root>/.cache``."""
    from scenarios import smoke_experiment

    from asrlab.lab.sweep import run_sweep

    runs_root = tmp_path_factory.mktemp("smoke_runs")
    return run_sweep(smoke_experiment(), runs_root=runs_root, progress=False)


@pytest.fixture(scope="session")
def reproduce_run(
    tmp_path_factory: pytest.TempPathFactory, kernels: None, slow: None
) -> ReproduceRun:
    """`asrlab reproduce` of tests/data/incident_tiny.yaml (one hard_kill replay on tiny.en, the
    incident's absolute thresholds), run once a session."""
    from scenarios import INCIDENT_TINY, ReproduceRun
    from typer.testing import CliRunner

    from asrlab.cli.main import app

    root = tmp_path_factory.mktemp("reproduce")
    args = ["reproduce", "--experiment", str(INCIDENT_TINY), "--model", "tiny.en", "--absolute"]
    args += ["--no-traces", "--out", str(root / "incident"), "--runs-root", str(root)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    (run_dir,) = (root / "incident").iterdir()  # one run folder per command
    return ReproduceRun(args, done.output, run_dir)
