"""Where the lab's own files live, and finding one by name: notebooks/ and experiments/.

Both folders sit beside the package in a checkout (an installed asrlab has neither); a name
(``"02_beam_size"``, ``"incident"``) is looked up there, a path is taken as it is.
"""

from __future__ import annotations

from pathlib import Path

from asrlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
EXPERIMENT_DIR = ROOT / "experiments"
RUNS_DIR = ROOT / "runs"  # git-ignored: everything a run writes


def output_dir(given: str | Path | None, notebook: str) -> Path:
    """Where a notebook writes: ``given`` (a sweep passes the point's folder), else
    ``runs/notebooks/<notebook>/`` of the checkout, so a notebook opened in JupyterLab never
    writes beside itself into notebooks/. Made if missing."""
    out = Path(given) if given is not None else RUNS_DIR / "notebooks" / notebook
    out.mkdir(parents=True, exist_ok=True)
    return out


def find(name: str, folder: Path, suffix: str, what: str) -> Path:
    """``name`` as an existing ``*suffix`` path, else ``folder/<name><suffix>``; the error names
    ``what`` was asked for and lists what ``folder`` holds."""
    path = Path(name)
    if path.suffix == suffix and path.is_file():
        return path
    candidate = folder / f"{name.removesuffix(suffix)}{suffix}"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in folder.glob(f"*{suffix}")))
    raise ConfigError(what, name, f"no such {what}; available: {known}")
