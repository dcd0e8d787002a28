"""The set-up contract: pyproject, environment.yml and the lock agree; import is cheap."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


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
    pins = _pins(ROOT / "requirements" / "lock.txt")
    runtime = [_name(r) for r in _runtime_dependencies()]
    assert not [n for n in runtime if not pins.get(n)], "lock.txt lacks a pin"
    assert pins["faster-whisper"] == "1.2.1" and pins["torch"] == "2.13.0"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def _prerequisites(target: str) -> list[str]:
    """What a Makefile target depends on (its rule's line)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith(f"{target}:"):
            return line.partition(":")[2].split()
    raise AssertionError(f"the Makefile has no target {target}")


def test_the_peers_extra_is_pinned_beside_the_lock_and_only_make_test_installs_it() -> None:
    """The peer deployment (`asrlab drive` against faster-whisper-server) is an extra whose
    pins add packages to the lock and move none of its own; `make test` installs it so its test
    runs in CI, while `make reproduce` and `make test-fast` never need it."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert extras["optional-dependencies"]["peers"] == ["faster-whisper-server==0.0.3"]
    peers = _pins(ROOT / "requirements" / "peers.txt")
    assert peers["faster-whisper-server"] == "0.0.3" and all(peers.values())
    moved = sorted(set(peers) & set(_pins(ROOT / "requirements" / "lock.txt")))
    assert not moved, f"requirements/peers.txt pins what the lock pins: {moved}"
    assert "$(PEERS_STAMP)" in _prerequisites("test")
    assert "$(PEERS_STAMP)" not in _prerequisites("reproduce") + _prerequisites("test-fast")


def test_import_loads_nothing_outside_the_standard_library() -> None:
    """Issue 2's cheap import, as what it loads rather than a time: `import asrlab` in a fresh
    interpreter imports no third-party module (no numpy, let alone a decoder); the names it
    exports resolve lazily (`test_lazy_names_resolve`)."""
    code = (
        "import sys; before = set(sys.modules); import asrlab; "
        "new = {m.partition('.')[0] for m in set(sys.modules) - before}; "
        "print(','.join(sorted(new - {'asrlab'} - sys.stdlib_module_names)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = done.stdout.strip()
    assert loaded == "", f"import asrlab loaded {loaded}"


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
