"""The floor plan holds: every import inside asrlab goes down a layer (or stays in its own
subpackage), no module imports itself in a circle, across layers or inside one subpackage, and the
pure layers load no decoder stack.

Imports inside functions count: an import deferred to call time is still a dependency, and
hiding a cycle in one is how the layers once leaked (cli <-> simcli, sweep <-> cluster). So do
imports under ``if TYPE_CHECKING:`` when cycles are sought: the type checker follows them, and a
type-only import back (reports -> sweep for `SweepResult`) hid the last cycle, inside `lab`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "asrlab"
# Bottom to top; a module may import from a lower layer, or from its own subpackage.
LAYERS = (
    "base", "audio", "decoding", "service", "workload", "analysis", "endpoint", "sim", "lab", "cli",
)  # fmt: skip
BASE = ("errors", "provenance", "checks", "stats")  # the shared helpers: top-level modules
FACADE = "asrlab"  # asrlab/__init__.py names a few things from every layer, lazily
HEAVY = ("faster_whisper", "ctranslate2", "torch", "onnxruntime", "av")


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
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


def graph(package: Path = PACKAGE, *, typing: bool = True) -> dict[str, set[str]]:
    known = modules(package)
    return {m: imports(p, known, typing=typing) - {m} for m, p in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk of ``edges`` (module -> the modules it imports) closes, one
    per edge back to a module still on the walk's path, each as ``[m, ..., m]``. Empty exactly
    when the graph has no cycle."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def internal(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without the facade, which names a few things from every layer, lazily."""
    return {m: {t for t in ts if t != FACADE} for m, ts in edges.items() if m != FACADE}


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
    """No chain of imports leads back to where it started, whether it crosses layers or stays
    inside one subpackage; imports inside functions and under TYPE_CHECKING count (a result type
    that two modules need lives below both, as `lab.outcomes` does for the sweep and its
    reports)."""
    found = cycles(internal(graph()))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c", "a"]]),
        ({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}, []),  # a diamond: no cycle
        ({"a": {"b"}, "b": set(), "c": {"d"}, "d": {"c"}}, [["c", "d", "c"]]),
    ],
    ids=["pair", "triangle", "diamond", "second_component"],
)
def test_the_cycle_finder_on_hand_made_graphs(
    edges: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert cycles(edges) == expected


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
    assert cycles(graph(pkg)) == [["asrlab.lab.b", "asrlab.service.a", "asrlab.lab.b"]]


@pytest.mark.parametrize(
    "back",
    [
        "if TYPE_CHECKING:\n    from asrlab.lab.sweep import SweepResult\n",
        "def write_reports(result):\n    from asrlab.lab import sweep\n",
    ],
    ids=["type_only", "in_a_function"],
)
def test_the_walker_sees_a_cycle_inside_one_subpackage(tmp_path: Path, back: str) -> None:
    """reports <-> sweep as they were: the sweep imports the reports to write them, the reports
    import the sweep's result type back (under TYPE_CHECKING, as at 8115485, or at call time). No
    layer is crossed, so only the cycle check can catch it, and it does."""
    lab = tmp_path / "asrlab" / "lab"
    lab.mkdir(parents=True)
    (lab / "__init__.py").write_text("")
    (lab / "sweep.py").write_text("from asrlab.lab import reports\n\nclass SweepResult: ...\n")
    (lab / "reports.py").write_text(f"from typing import TYPE_CHECKING\n\n{back}")
    edges = internal(graph(tmp_path / "asrlab"))
    assert cycles(edges) == [["asrlab.lab.reports", "asrlab.lab.sweep", "asrlab.lab.reports"]]


PURE = (
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
    "asrlab.endpoint.wire",
    "asrlab.endpoint.formats",
)


@pytest.fixture(scope="module")
def heavy_loaded() -> dict[str, str]:
    """module -> the HEAVY modules importing it loaded, each in a fresh interpreter; the
    interpreters run side by side (each import is its own process)."""
    code = "import importlib, sys; importlib.import_module(sys.argv[1]); "
    code += f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    started = {
        m: subprocess.Popen([sys.executable, "-c", code, m], stdout=subprocess.PIPE, text=True)
        for m in PURE
    }
    loaded = {}
    for module, process in started.items():
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, f"import {module} failed"
        loaded[module] = out.strip()
    return loaded


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_load_no_decoder_stack(heavy_loaded: dict[str, str], module: str) -> None:
    """The simulator, the arbiter and the workload's spec never load a decoder or a VAD runtime."""
    assert heavy_loaded[module] == "", f"import {module} loaded {heavy_loaded[module]}"


def test_every_module_imports() -> None:
    """A module no test reaches still has to import (a moved name shows here, not in production)."""
    code = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"
    names = [m for m in modules() if not m.endswith("__main__")]
    subprocess.run([sys.executable, "-c", code, *names], check=True)
