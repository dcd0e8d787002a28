"""Notebooks run for real through papermill, with small parameters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest
from scenarios import ReproduceRun

from asrlab.errors import ConfigError
from asrlab.lab import notebooks

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_a_kernels_stderr_goes_to_the_run_folder_not_the_progress_bar(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """ipykernel warns on stderr at every start; `asrlab reproduce` printed it through its bar."""
    log = tmp_path / "remedy" / "kernel.log"
    say = [sys.executable, "-c", "import sys; sys.stderr.write(sys.argv[1])"]
    with notebooks.stderr_to(log):
        subprocess.run([*say, "[IPKernelApp] WARNING"], check=True)
    subprocess.run([*say, "after the run"], check=True)
    assert log.read_text() == "[IPKernelApp] WARNING"
    assert capfd.readouterr().err == "after the run"


@pytest.mark.timeout(300)
@pytest.mark.kernel
def test_decode_trace_notebook(tmp_path: Path, kernels: None) -> None:
    out_dir = tmp_path / "run"
    params = {
        "source": "jfk",
        "model": "tiny.en",
        "overrides": {"beam_size": 2},
        "output_dir": str(out_dir),
    }
    executed = tmp_path / "executed.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / "00_decode_trace.ipynb"),
        str(executed),
        parameters=params,
        cwd=str(tmp_path),
        progress_bar=False,
    )
    nb = json.loads(executed.read_text())
    assert nb["metadata"]["papermill"]["parameters"] == params  # the run says how it was made
    attempts = pd.read_parquet(out_dir / "attempts.parquet")
    assert list(attempts["verdict"]) == ["accepted"] and attempts["beam_size"].iloc[0] == 2
    trace = json.loads((out_dir / "trace.json").read_text())
    assert "ask not what your country" in trace["summary"]["text"].lower()
    assert trace["provenance"]["model"] == "tiny.en"
    assert (out_dir / "trace.png").stat().st_size > 10_000


@pytest.mark.timeout(600)
@pytest.mark.kernel
@pytest.mark.slow
def test_incident_replay_notebook(reproduce_run: ReproduceRun) -> None:
    """The replay notebook as `asrlab reproduce` executed it for the session (tests/conftest.py:
    tests/data/incident_tiny.yaml, one hard_kill replay on tiny.en): its point folder."""
    (out_dir,) = (reproduce_run.run_dir / "points").iterdir()
    executed = out_dir / "executed.ipynb"
    params = json.loads(executed.read_text())["metadata"]["papermill"]["parameters"]
    assert params["remedy"] == "hard_kill" and params["model"] == "tiny.en"
    assert executed.with_suffix(".html").stat().st_size > 10_000
    rows = pd.read_parquet(out_dir / "results.parquet")
    assert list(rows["role"]) == ["A", "B"] and (rows["status"] == "ok").all()
    assert rows["code_version"].notna().all() and rows["model_sha256"].str.len().eq(64).all()
    assert "squalid" in rows["text"].iloc[0].lower()
    assert (out_dir / "timeline.png").stat().st_size > 10_000
    assert (out_dir / "kernel.log").is_file()  # the kernel's stderr, beside the notebook


def test_unknown_notebook_parameter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not declared"):
        notebooks.execute("01_incident_replay", tmp_path, {"beam": 5})


def test_committed_notebooks_have_parameters_and_no_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells), path.name
        assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), path.name


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_writes_under_runs_by_default(path: Path) -> None:
    """Opened in JupyterLab and run as it is, a notebook writes into runs/ (git-ignored), never
    beside itself into notebooks/."""
    from asrlab.lab import paths

    assert notebooks.declared_parameters(path)["output_dir"]["default"] == "None"
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == notebooks.KERNEL
    assert f'paths.output_dir(output_dir, \\"{path.stem}\\")' in path.read_text()  # JSON-escaped
    out = paths.output_dir(None, path.stem)
    assert out == paths.RUNS_DIR / "notebooks" / path.stem and out.is_dir()


def test_every_library_call_a_notebook_makes_exists() -> None:
    """A notebook is only run by the kernel tests; a figure or summary it names that an edit
    removed from the library is caught here, in the fast tier."""
    import re

    from asrlab.analysis import figures, scoreboard

    modules = {"figures": figures, "scoreboard": scoreboard}
    for path in NOTEBOOKS.glob("*.ipynb"):
        source = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for module, name in re.findall(r"\b(figures|scoreboard)\.(\w+)\(", source):
            assert hasattr(modules[module], name), f"{path.name}: {module}.{name}"
