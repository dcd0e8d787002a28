"""The set-up contract: pyproject, environment.yml and the lock agree; import is cheap."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("faster_whisper", "ctranslate2", "torch", "pandas", "av", "onnxruntime", "matplotlib")


def _name(requirement: str) -> str:
    """Normalised distribution name of a requirement string (PEP 503)."""
    name = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"]


def test_environment_yml_names_every_runtime_dependency() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    named = {_name(r) for r in pip_section if not r.startswith("-")}
    missing = {_name(r) for r in _runtime_dependencies()} - named
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_lock_pins_every_runtime_dependency_exactly() -> None:
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    runtime = [_name(r) for r in _runtime_dependencies()]
    assert not [n for n in runtime if not pins.get(n)], "lock.txt lacks a pin"
    assert pins["faster-whisper"] == "1.2.1" and pins["torch"] == "2.13.0"


def test_import_is_fast_and_loads_no_heavy_module() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); import asrlab; "
        "print(time.perf_counter() - t); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split("\n")
    process_s = time.perf_counter() - t0
    import_s, heavy = float(out[0]), out[1]
    print(f"import asrlab: {import_s * 1000:.1f} ms; whole interpreter {process_s:.2f} s")
    assert heavy == "", f"import asrlab loaded {heavy}"
    assert process_s < 1.0  # issue 2: `python -c "import asrlab"` takes under 1 s


def test_lazy_names_resolve() -> None:
    import asrlab

    for name in asrlab.__all__:
        assert getattr(asrlab, name) is not None


def test_one_version_a_licence_and_type_information() -> None:
    """The version is written once (asrlab.__version__; pyproject reads it), the licence
    pyproject names is shipped, and the package says it is typed (PEP 561)."""
    import asrlab

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "asrlab.__version__"}
    assert pyproject["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert (ROOT / "asrlab" / "py.typed").exists()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["asrlab"]
    done = subprocess.run(
        [sys.executable, "-m", "asrlab.cli.main", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith(f"asrlab {asrlab.__version__} (")
