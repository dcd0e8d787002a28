"""Run a parameterized notebook with papermill into a run folder, with an HTML copy.

A parameter the notebook does not declare is refused before anything runs (papermill itself
only logs it), so a typo in a sweep cannot silently run the defaults.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asrlab.errors import ConfigError
from asrlab.lab import paths


def notebook_path(name: str) -> Path:
    """``"01_incident_replay"`` or a path -> the notebook file; the error lists what exists."""
    return paths.find(name, paths.NOTEBOOK_DIR, ".ipynb", "notebook")


def declared_parameters(path: Path) -> dict[str, Any]:
    """The names (and inferred defaults) of the notebook's ``parameters`` cell."""
    import papermill

    return papermill.inspect_notebook(str(path))


def summary_name(path: Path) -> str | None:
    """The summary across points that the notebook names in its metadata (``"asrlab":
    {"summary": ...}``, one of `asrlab.lab.summaries.SUMMARIES`), None if it names none."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError) as e:
        raise ConfigError("notebook", str(path), f"cannot be read as a notebook: {e}") from e
    name = (meta.get("asrlab") or {}).get("summary")
    return str(name) if name else None


def execute(name: str, out_dir: Path, parameters: dict[str, Any], *, html: bool = True) -> Path:
    """Execute notebook ``name`` with ``parameters`` into ``out_dir``/executed.ipynb (+ .html);
    the kernel's stderr goes to ``out_dir``/kernel.log (`stderr_to`).

    Raises:
        ConfigError: a parameter the notebook does not declare.
        papermill.PapermillExecutionError: a cell raised (the executed notebook is still written).
    """
    import papermill

    path = notebook_path(name)
    unknown = sorted(set(parameters) - set(declared_parameters(path)))
    if unknown:
        raise ConfigError("parameters", unknown, f"not declared by {path.name}'s parameters cell")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / "executed.ipynb"
    try:
        with stderr_to(out_dir / "kernel.log"):
            papermill.execute_notebook(
                str(path),
                str(executed),
                parameters=parameters,
                progress_bar=False,
                cwd=str(out_dir),
                kernel_name=kernel_name(),
            )
    finally:
        if html and executed.exists():
            _to_html(executed)
    return executed


KERNEL = "asrlab"  # the notebooks' kernelspec, installed into the venv by `make`


def kernel_name() -> str:
    """The notebooks' own kernel when this environment has it, else ``python3`` (this
    interpreter's default kernel: a venv made without `make` still runs the notebooks)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr, and so the kernel's it starts, to ``path`` (appended).

    The kernel inherits file descriptor 2, and its start-up warnings would otherwise be written
    through the caller's progress bar; they stay in the run folder beside the notebook.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _to_html(executed: Path) -> Path:
    import nbconvert
    import nbformat

    body, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target
