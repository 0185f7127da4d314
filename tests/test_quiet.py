"""Normal output is quiet: no entry point prints TensorFlow's (or CUDA's, oneDNN's) start-up log lines, which appear
when a module imports TensorFlow before `data.quiet.import_quietly` has run.

Each entry point starts its real work (past argument parsing and every import, TensorFlow included where it uses it)
and stops at its first input, a missing configuration file, with its one error line: seconds, not a pipeline run."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO

# Markers of the native libraries' log lines (absl's prefix, its pre-init warning, the oneDNN and CUDA notices).
LOG_MARKERS = ("I0000", "W0000", "E0000", "absl::InitializeLog", "oneDNN", "cuda")
# Runs `python -m <module> <args...>` as the Makefile does and writes, at exit, whether TensorFlow was loaded.
PROBE = """import atexit, json, runpy, sys
out, sys.argv = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps("tensorflow" in sys.modules)))
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""
# At most this many entry points start at once (each loads TensorFlow: about 1 GB and a core for seconds).
PARALLEL = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def entry_points(tmp: Path) -> dict[str, tuple[list[str], bool]]:
    """Module -> (its arguments, with ``tmp`` as an empty build folder; whether it has loaded TensorFlow when it
    finds the configuration file missing: the data stage never needs it, the demo only once it has a model)."""
    build = ["--build", str(tmp)]
    return {"data": (build, False), "train": (build, True), "quantize": (build, True),
            "host.evaluate": (build, True), "host.predict": (["--random", *build], True),
            "host.harness": (["--port", "virtual", *build], True), "experiments.cv": (build, True),
            "experiments.compare": (build, True), "experiments.bench": (["--smoke", *build], True),
            "experiments.continuous": (["--no-sim", *build], True),
            "demo": (["--http-port", str(free_port()), *build], False)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess, bool, bool]]:
    """Every entry point run once, a few at a time, with a missing configuration file (``make CONFIG=``) as the bad
    input: module -> (its process, whether it loaded TensorFlow, whether it should have)."""
    tmp = tmp_path_factory.mktemp("quiet")
    # The Makefile's environment (TF_CPP_MIN_LOG_LEVEL=3), which alone does not silence absl's start-up lines.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONWARNINGS": "ignore", "PIPELINE_CONFIG": str(tmp / "missing.toml")}

    def run(item: tuple[str, tuple[list[str], bool]]) -> tuple[subprocess.CompletedProcess, bool, bool]:
        module, (args, loads_tf) = item
        flag = tmp / f"{module}.tensorflow.json"
        proc = subprocess.run([sys.executable, "-c", PROBE, str(flag), module, *args], cwd=REPO, env=env,
                              capture_output=True, text=True)
        return proc, flag.exists() and json.loads(flag.read_text()), loads_tf

    points = entry_points(tmp / "build")
    with ThreadPoolExecutor(PARALLEL) as pool:
        return dict(zip(points, pool.map(run, points.items())))


@pytest.mark.parametrize("module", list(entry_points(Path("/tmp"))))
def test_entry_point_starts_its_work_without_native_log_lines(module: str, runs: dict) -> None:
    proc, loaded_tf, loads_tf = runs[module]
    noise = [line for line in proc.stderr.splitlines() if any(m in line for m in LOG_MARKERS)]
    assert not noise, f"python -m {module}: {noise[:3]}"
    assert loaded_tf == loads_tf, f"python -m {module} stopped before its real work: {proc.stderr[-500:]}"
    assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr[-2000:]
    assert all(line.startswith("error: ") for line in proc.stderr.splitlines()), proc.stderr[-2000:]
