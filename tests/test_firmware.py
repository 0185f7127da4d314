"""Firmware checks that run on any machine: the portable core and the serial protocol built for the host with
-Wall -Wextra -Werror and ASan/UBSan (unit tests + golden vectors), the Cortex-M4F cross-compile with its size
report, and a bounded libFuzzer run. Each goes through the same make target CI uses (`make firmware-check`).

Without CI=true, the cross-compile and fuzz tests skip when their toolchain is missing; with CI=true they fail.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.firmware

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Short fuzz run inside the test suite (make firmware-check runs the full 20 s).
FUZZ_SECONDS = 8


def make(*args, timeout=180):
    result = subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"make {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def require_tool(tool, why):
    if shutil.which(tool) is None:
        if IN_CI:
            pytest.fail(f"{tool} missing in CI ({why})")
        pytest.skip(f"{tool} not installed ({why})")


def test_host_unit_tests_and_golden_vectors():
    out = make("firmware-test")
    assert re.search(r"^\d+ tests, 0 failures$", out, re.M), out


def test_tflm_registers_exactly_the_model_ops():
    source = (FIRMWARE / "src/inference/inference_tflm.cc").read_text()
    ops = re.findall(r"\.Add(\w+)\(\)", source)
    assert sorted(ops) == sorted(
        ["UnidirectionalSequenceLSTM", "ReverseV2", "Mean", "Concatenation", "FullyConnected", "Softmax"]
    )
    assert "MicroMutableOpResolver<kNumOpTypes>" in source
    assert re.search(r"kNumOpTypes = (\d+)", source).group(1) == str(len(ops))
    # Only TFLM's public headers, and no platform code.
    includes = re.findall(r'#include [<"]([^>"]+)[>"]', source)
    assert not any(i.startswith("Arduino") for i in includes)


def test_core_is_portable():
    for path in (FIRMWARE / "src/core").glob("*"):
        text = path.read_text()
        assert "Arduino" not in text and "tensorflow" not in text, path
        assert "#ifdef" not in text and "#if " not in text, f"{path}: platform choices are made at link time"


def test_simulator_answers_hello():
    make("firmware-sim-fake")
    result = subprocess.run(
        [str(ROOT / "build/firmware/host/sim_fake")], input=b"HELLO\r\nSELFTEST *0000\n", capture_output=True, timeout=30
    )
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("BOOT proto=2 fw=0.1.0 model=0123abcd *"), lines
    assert lines[1] == "# self-test 8/8 identical to host"
    assert lines[2].startswith("OK HELLO proto=2 ")
    assert lines[3].startswith("ERR crc *")


def test_cross_compile_for_cortex_m4f_reports_size():
    require_tool("arm-none-eabi-g++",
                 "Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib")
    make("firmware-cross")
    report = json.loads((ROOT / "build/firmware/size.json").read_text())
    assert report["forbidden_symbols_in_core"] == []
    assert 0 < report["core"]["total"]["text"] < 16 * 1024
    assert report["core"]["total"]["ram"] == 0


def test_fuzz_parser_bounded():
    require_tool("clang++", "Debian: clang (its libclang-rt-*-dev dependency carries libFuzzer)")
    make("firmware-fuzz", f"FUZZ_SECONDS={FUZZ_SECONDS}", timeout=120)
