"""Shared fixtures: a smoke-sized pipeline build, and the real-speech data that CI must have."""
from __future__ import annotations

import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The Makefile's FSDD_DIR (exported; relative paths are from the repository root), so `make test FSDD_DIR=...`
# tests the same copy that `make cv FSDD_DIR=...` uses.
FSDD_DIR = (REPO / os.environ.get("FSDD_DIR", "../shared/data/fsdd")).resolve()
IN_CI = os.environ.get("CI") == "true"


def run_stage(module: str, *args: str, check: bool = True, config: Path | None = None) -> subprocess.CompletedProcess:
    """Run a pipeline entry point (``python -m <module>``) the way the Makefile does (``config``: `make CONFIG=`)."""
    env = os.environ | {"PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if config is not None:
        env["PIPELINE_CONFIG"] = str(config)
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"python -m {module} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


# Fixtures that run the pipeline (a training each): a test using one belongs to the slow lane.
TRAINED_FIXTURES = ("smoke_build", "words_build", "voices_build", "pitch_build")


# Tests with these markers compile into outputs every such test shares (the third-party cache TP_CACHE, the
# repository's build/): in parallel runs (`make test`: pytest-xdist) they all run on one worker, one after another.
SHARED_OUTPUT_MARKERS = frozenset({"firmware", "board"})
SHARED_OUTPUT_GROUP = "toolchain"


def _mark_names(decorators: list[ast.expr]) -> set[str]:
    """``x`` of every ``pytest.mark.x`` or ``pytest.mark.x(...)`` among ``decorators`` (or a ``pytestmark`` value)."""
    names = set()
    for node in decorators:
        node = node.func if isinstance(node, ast.Call) else node
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "pytest.mark":
            names.add(node.attr)
    return names


def shared_output_tests(tests: Path = Path(__file__).parent) -> set[str]:
    """``tests/<file>::<function>`` of every test marked with a ``SHARED_OUTPUT_MARKERS`` marker, read from the
    source: the controller of a parallel run schedules before any test is collected (checked against the collected
    markers in :func:`pytest_collection_modifyitems`). A file with such a test that trains a build of its own (a
    ``TRAINED_FIXTURES`` fixture but the smoke build, which every worker builds) goes whole: its build is trained
    once."""
    found = set()
    for path in sorted(tests.glob("test_*.py")):
        body = ast.parse(path.read_text()).body
        module = set().union(*(_mark_names(node.value.elts if isinstance(node.value, (ast.List, ast.Tuple))
                                           else [node.value]) for node in body if isinstance(node, ast.Assign)
                               and any(ast.unparse(t) == "pytestmark" for t in node.targets)))
        functions = [node for node in body if isinstance(node, ast.FunctionDef)]
        tests_ = {node.name: (module | _mark_names(node.decorator_list)) & SHARED_OUTPUT_MARKERS
                  for node in functions if node.name.startswith("test")}
        trains = {arg.arg for node in functions for arg in node.args.args} & (set(TRAINED_FIXTURES) - {"smoke_build"})
        whole = any(tests_.values()) and bool(trains)
        found |= {f"{path.parent.name}/{path.name}::{name}" for name, marks in tests_.items() if marks or whole}
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fast lane (``make test-fast``) must stay fast: a test that needs a trained build is marked slow. The
    parallel run's grouping (:func:`shared_output_tests`) must see every toolchain test."""
    unmarked = [item.nodeid for item in items if set(TRAINED_FIXTURES) & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError(f"uses a trained build ({', '.join(TRAINED_FIXTURES)}) but is not marked "
                                f"@pytest.mark.slow: {', '.join(unmarked)}")
    marked = {item.nodeid.split("[", 1)[0] for item in items
              if SHARED_OUTPUT_MARKERS & {mark.name for mark in item.iter_markers()}}
    missed = marked - shared_output_tests()
    if missed:
        raise pytest.UsageError(f"tests/conftest.py shared_output_tests() does not see the markers of "
                                f"{', '.join(sorted(missed))}: mark them with a decorator or pytestmark")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Parallel runs (``-n``, `make test`): a file's tests run on one worker (its module fixtures are built once),
    except the toolchain tests, which all run on one worker (their outputs are shared)."""
    from xdist.scheduler import LoadScopeScheduling

    shared = shared_output_tests()

    class SharedOutputScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_OUTPUT_GROUP if nodeid.split("[", 1)[0] in shared else nodeid.split("::", 1)[0]

    return SharedOutputScheduling(config, log)


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build folder produced by the real pipeline on the smoke-sized synthetic dataset (about a minute)."""
    build = tmp_path_factory.mktemp("smoke_build")
    run_stage("data", "--smoke", "--build", str(build))
    run_stage("train", "--smoke", "--build", str(build))
    run_stage("quantize", "--smoke", "--build", str(build))
    run_stage("host.evaluate", "--build", str(build))
    return build


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    """The shared FSDD copy; skipped on a user's clone, required under CI=true."""
    if not (FSDD_DIR / "recordings").is_dir():
        if IN_CI:
            pytest.fail(f"{FSDD_DIR} is missing: CI must run the real-speech tests")
        pytest.skip(f"real-speech data not available at {FSDD_DIR} (only in the team's workspace)")
    return FSDD_DIR


@pytest.fixture
def tiny_splits() -> tuple[dict, dict]:
    """Training (64 clips) and validation (16) splits of random 20x13 "MFCCs" in two labels that differ in one
    coefficient: learnable in a couple of epochs of a 4-unit model."""
    import numpy as np

    from data.datasets import Clip
    from experiments.cv.folds import split_arrays

    rng = np.random.default_rng(0)
    labels = ["zero", "one"]

    def split(n: int) -> dict:
        clips = [Clip(Path(f"/s/synth-a/{i}.wav"), labels[i % 2], "synth-a") for i in range(n)]
        x = rng.normal(0, 1, (n, 20, 13)).astype(np.float32)
        x[1::2, :, 1] += 2.0
        return split_arrays(x, clips, labels)

    return split(64), split(16)
