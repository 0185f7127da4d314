"""Normal output is quiet: no entry point prints TensorFlow's (or CUDA's, oneDNN's) start-up log lines, which appear
when a module imports TensorFlow before `data.quiet.import_quietly` has run."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

ENTRY_POINTS = ["data", "train", "quantize", "host.evaluate", "host.predict", "host.harness", "experiments.cv",
                "experiments.compare", "experiments.bench", "experiments.continuous", "demo"]
# Markers of the native libraries' log lines (absl's prefix, its pre-init warning, the oneDNN and CUDA notices).
LOG_MARKERS = ("I0000", "W0000", "E0000", "absl::InitializeLog", "oneDNN", "cuda")


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_entry_point_starts_without_native_log_lines(module: str) -> None:
    # The Makefile's environment (TF_CPP_MIN_LOG_LEVEL=3), which alone does not silence absl's start-up lines.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    noise = [line for line in proc.stderr.splitlines() if any(m in line for m in LOG_MARKERS)]
    assert not noise, f"python -m {module}: {noise[:3]}"
