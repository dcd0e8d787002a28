"""The floor plan holds: every import inside asrlab goes down a layer (or stays in its own
subpackage), no module imports itself in a circle, and the pure layers load no decoder stack.

Imports inside functions count: an import deferred to call time is still a dependency, and
hiding a cycle in one is how the layers once leaked (cli <-> simcli, sweep <-> cluster).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "asrlab"
# Bottom to top; a module may import from a lower layer, or from its own subpackage.
LAYERS = ("base", "audio", "decoding", "service", "workload", "analysis", "sim", "lab", "cli")
BASE = ("errors", "provenance", "checks", "stats")  # the shared helpers: top-level modules
FACADE = "asrlab"  # asrlab/__init__.py names a few things from every layer, lazily
HEAVY = ("faster_whisper", "ctranslate2", "torch", "onnxruntime", "av")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def layer(module: str) -> str:
    top = module.split(".")[1] if "." in module else ""
    return "base" if top in BASE else top


def imports(path: Path, known: dict[str, Path], *, typing: bool = True) -> set[str]:
    """The asrlab modules a file imports, anywhere in it (``from asrlab.x import y``: module
    ``asrlab.x.y`` when that is a module, else ``asrlab.x``); ``typing=False`` leaves out those
    under ``if TYPE_CHECKING:``, which annotations need and nothing runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    if not typing:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                skipped |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "asrlab"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "asrlab":
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def graph(*, typing: bool = True) -> dict[str, set[str]]:
    known = modules()
    return {m: imports(p, known, typing=typing) - {m} for m, p in known.items()}


def test_every_import_names_a_module_of_the_tree() -> None:
    known = modules()
    missing = {(m, t) for m, targets in graph().items() for t in targets if t not in known}
    assert not missing, f"imports of modules that do not exist: {sorted(missing)}"


def test_every_module_lives_in_a_layer() -> None:
    strays = [m for m in modules() if m != FACADE and layer(m) not in LAYERS]
    assert not strays, f"modules outside the layers {LAYERS}: {strays}"


def test_imports_only_go_down() -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = []
    for source, targets in graph().items():
        if source == FACADE:
            continue
        for target in targets:
            if target == FACADE:
                continue  # `from asrlab import errors`-style names resolve to modules above
            same = layer(source) == layer(target) != "base" or {source, target} <= set(
                f"asrlab.{b}" for b in BASE
            )
            if not same and rank[layer(target)] >= rank[layer(source)]:
                upward.append(f"{source} -> {target}")
    assert not upward, "imports that go up (or sideways) a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycle() -> None:
    """No cycle among the imports that run (a type-only import back is how a result type is
    named by the module that renders it)."""
    runtime = graph(typing=False)
    edges = {m: {t for t in ts if t != FACADE} for m, ts in runtime.items() if m != FACADE}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_walker_sees_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """The rules above can fail: a service module that imports the lab, and two modules that
    import each other inside functions, are both caught."""
    pkg = tmp_path / "asrlab"
    (pkg / "service").mkdir(parents=True)
    (pkg / "lab").mkdir()
    (pkg / "service" / "a.py").write_text("def f():\n    from asrlab.lab import b\n")
    (pkg / "lab" / "b.py").write_text("def g():\n    from asrlab.service import a\n")
    known = {"asrlab.service.a": pkg / "service" / "a.py", "asrlab.lab.b": pkg / "lab" / "b.py"}
    assert imports(known["asrlab.service.a"], known) == {"asrlab.lab.b"}
    assert imports(known["asrlab.lab.b"], known) == {"asrlab.service.a"}
    assert LAYERS.index(layer("asrlab.lab.b")) > LAYERS.index(layer("asrlab.service.a"))


@pytest.mark.parametrize(
    "module",
    [
        "asrlab.sim.core",
        "asrlab.sim.costs",
        "asrlab.sim.capacity",
        "asrlab.service.arbiter",
        "asrlab.service.policy",
        "asrlab.service.remedies",
        "asrlab.service.settings",
        "asrlab.workload.traffic",
        "asrlab.workload.attribution",
        "asrlab.decoding.options",
    ],
)
def test_pure_modules_load_no_decoder_stack(module: str) -> None:
    """The simulator, the arbiter and the workload's spec never load a decoder or a VAD runtime."""
    code = (
        f"import sys; import {module}; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"import {module} loaded {done.stdout.strip()}"


def test_every_module_imports() -> None:
    """A module no test reaches still has to import (a moved name shows here, not in production)."""
    code = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"
    names = [m for m in modules() if not m.endswith("__main__")]
    subprocess.run([sys.executable, "-c", code, *names], check=True)
