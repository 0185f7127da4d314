"""The layers contract: imports only go down, data <- train <- quantize <- host <- {experiments, demo, firmware tools},
and no module imports itself back through others. Every import statement counts, the lazy ones inside functions too
(they break nothing until the day they do), and ``importlib.import_module("...")`` with a literal name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

# Bottom to top; a package may import its own layer and those below it. firmware/ holds the build's Python tools
# (golden vectors, fixtures, size reports), which read the host's protocol: they sit on top, like the experiments.
LAYERS = (("data",), ("train",), ("quantize",), ("host",), ("experiments", "demo", "firmware"))
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_name(root: Path, path: Path) -> str:
    """``host/ports.py`` -> ``host.ports``; ``host/__init__.py`` -> ``host``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path, path: Path) -> list[tuple[str, int]]:
    """Every project module ``path`` imports, with its line: ``from host import protocol`` names ``host.protocol``
    when that is a module, else ``host``; relative imports are resolved against ``path``'s package."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (root / Path(*sub.split("."))).with_suffix(".py").is_file() or \
                    (root / Path(*sub.split("."))).is_dir()
                found.append((sub if is_module else base, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.args[0].value, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in RANK]


def import_graph(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Module -> [(imported project module, ``file:line``)] for every ``.py`` of the layered packages."""
    graph = {}
    for package in RANK:
        for path in sorted((root / package).rglob("*.py")):
            graph[module_name(root, path)] = [(name, f"{path.relative_to(root)}:{line}")
                                              for name, line in imports(root, path)]
    return graph


def upward_imports(graph: dict[str, list[tuple[str, str]]]) -> list[str]:
    """``file:line imports X (layer a imports layer b above it)`` for every import that goes up."""
    return [f"{where}: {module} imports {name} ({module.split('.')[0]} is below {name.split('.')[0]})"
            for module, targets in graph.items() for name, where in targets
            if RANK[name.split(".")[0]] > RANK[module.split(".")[0]]]


def cycles(graph: dict[str, list[tuple[str, str]]]) -> list[list[str]]:
    """The import cycles between modules (strongly connected components of more than one module, or a module that
    imports itself), each sorted."""
    edges = {m: {n for n, _ in targets if n in graph and n != m} for m, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the graph has ~100 modules, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def test_imports_only_go_down() -> None:
    graph = import_graph(REPO)
    assert len(graph) > 50  # the packages were found
    upward = upward_imports(graph)
    assert not upward, "\n".join(upward)


def test_no_module_imports_itself_back() -> None:
    circles = cycles(import_graph(REPO))
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small tree of the same packages that keeps the contract."""
    for package in RANK:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "data" / "config.py").write_text("X = 1\n")
    (tmp_path / "train" / "fit.py").write_text("from data.config import X\n")
    (tmp_path / "host" / "runtime.py").write_text("from train import fit\n")
    return tmp_path


def test_the_contract_sees_an_upward_import_inside_a_function(tree: Path) -> None:
    assert not upward_imports(import_graph(tree)) and not cycles(import_graph(tree))
    (tree / "quantize" / "build.py").write_text("def f():\n    from host.runtime import Runtime\n")
    assert upward_imports(import_graph(tree)) == [
        "quantize/build.py:2: quantize.build imports host.runtime (quantize is below host)"]


def test_the_contract_sees_a_circle_through_a_lazy_import(tree: Path) -> None:
    lazy = "import importlib\n\ndef f():\n    importlib.import_module('host.runtime')\n"
    (tree / "host" / "ports.py").write_text(lazy)
    (tree / "host" / "runtime.py").write_text("from . import ports\n")
    assert cycles(import_graph(tree)) == [["host.ports", "host.runtime"]]


def test_the_parallel_run_groups_every_toolchain_test() -> None:
    """`make test` runs in two processes; the toolchain tests (shared outputs) must all be scheduled on one. The
    source scan sees a module's pytestmark and a test's own decorators; a file that trains its own build goes whole."""
    from conftest import shared_output_tests

    shared = shared_output_tests()
    assert "tests/test_firmware.py::test_host_unit_tests_and_golden_vectors" in shared  # pytestmark
    assert "tests/test_frontend.py::test_mfccs_and_trim_equal_librosa_on_the_same_audio" in shared  # decorator
    assert "tests/test_board_build.py::test_sense_tflm_image_reuses_the_plain_checks_third_party_objects" in shared
    assert "tests/test_frontend.py::test_generated_tables_are_librosas" not in shared  # the smoke build's
    assert "tests/test_words.py::test_a_vocabulary_trains_with_silence_and_unknown" in shared  # a build of its own
    assert not any(test.startswith("tests/test_config.py::") for test in shared)
