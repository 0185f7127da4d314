"""The emulated harness holds under load (issue 26): ``make harness PORT=emu ENGINE=native INPUT=audio`` (about
130 exchanges per clip over the emulated UART) runs while busy loops keep every core of the machine busy, and
finishes every clip: the reply timeouts follow the emulator's measured speed (host/dut.py), where a fixed 1 s once
lost clips at a load of 7-11.

The native engine's image needs no TFLM build (a minute of compiling); skips without the ARM toolchain or QEMU,
fails under CI=true.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from host.emulator import QEMU

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"
LOAD_CLIPS = 3  # audio clips under load (35-80 s each at a load of 12-13; CI has a time budget)
BUSY_LOOPS_PER_CORE = 2  # busy processes per core on top of whatever else runs
LOAD_MAX_S = 1200  # the busy loops end by themselves after this, even if the test is killed
HARNESS_TIMEOUT_S = 1500  # the native image's build plus the clips on a loaded machine
BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@pytest.mark.firmware
@pytest.mark.slow
def test_emulated_harness_in_audio_mode_loses_no_clip_under_load(smoke_build: Path) -> None:
    missing = [tool for tool in ("arm-none-eabi-g++", QEMU) if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing in CI: {missing}") if IN_CI else pytest.skip(f"needs {', '.join(missing)}")
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=LOAD_MAX_S)])
             for _ in range(BUSY_LOOPS_PER_CORE * (os.cpu_count() or 2))]
    try:
        run = subprocess.run(["make", "-s", "harness", "PORT=emu", "ENGINE=native", "INPUT=audio", f"N={LOAD_CLIPS}",
                              f"BUILD={smoke_build}"], cwd=REPO, capture_output=True, text=True,
                             timeout=HARNESS_TIMEOUT_S)
        load = os.getloadavg()[0]
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert run.returncode == 0, f"load {load:.1f}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    summary = json.loads((smoke_build / "harness" / "summary.json").read_text())
    assert summary["input"] == "audio" and summary["clips"] == LOAD_CLIPS
    assert summary["model_on_device_features"]["identical"] == 1.0
