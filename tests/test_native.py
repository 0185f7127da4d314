"""The native engine (the model compiled to C by quantize/native.py, kernels in firmware/src/native) on the host:
its int8 scores equal the TFLM interpreter's byte for byte on every test clip of the smoke model and on random
and extreme inputs of models with random weights built through the real converter (BiLSTM and LSTM, two sizes,
two label counts); a model it cannot run is refused in one line. Needs a C++ compiler (g++).

The reference is the board's TFLM revision built for the host (`make tflm-reference`); the pinned PyPI
tflite-micro (the pipeline's `tflm` backend) must equal it too. Newer PyPI builds form per-tensor FC multipliers in
double where the board's revision uses float, and differ from the board by one score on about 1 in 10,000 extreme
inputs: this test is what catches such a version bump.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from data.artifacts import INT8_FILE
from data.config import load_config
from quantize.model_io import TflmRunner, device_input, load_meta
from quantize.native import Unsupported, generate, sigmoid_table, write_native
from quantize.native_runner import NativeRunner
from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parent.parent
TFLM_HOST = REPO / "build" / "third_party" / json.loads((REPO / "firmware/third_party/pins.json").read_text())[
    "tflm-host"]["dir"]
TFLM_REFERENCE = REPO / "build" / "firmware" / "tflm-reference" / "tflm_reference"
# Random models: (architecture, lstm_units, labels, frames, random inputs). The default model's shape gets the
# 10,000 inputs of the issue; the others fewer frames and inputs to keep the test short (TFLM runs ~2.5 ms/clip).
MODELS = [("bilstm", 24, 10, 100, 10_000), ("bilstm", 8, 3, 30, 3_000), ("lstm", 12, 10, 30, 3_000),
          ("lstm", 4, 2, 30, 3_000)]
NUM_COEFFS = 13
MIN_DISTINCT_OUTPUTS = 20


def require_cxx() -> None:
    if shutil.which("g++") is None:
        if IN_CI:
            pytest.fail("missing in CI: g++")
        pytest.skip("the native engine's host library needs g++")


def extreme_and_random(n: int, frames: int, seed: int) -> np.ndarray:
    """``n`` int8 clips: all -128, all 127, alternating -128/127 (by value and by frame), then uniform random."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, frames, NUM_COEFFS)).astype(np.int8)
    x[0], x[1] = -128, 127
    x[2] = np.where(np.arange(frames * NUM_COEFFS).reshape(frames, NUM_COEFFS) % 2, 127, -128)
    x[3] = np.where(np.arange(frames)[:, None] % 2, 127, -128)
    x[4] = -x[2] - 1
    return x


def require_pinned_tflm() -> None:
    proc = subprocess.run(["make", "-s", str(TFLM_HOST.relative_to(REPO) / ".verified")], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        if IN_CI:
            pytest.fail(f"pinned TFLM tree not available: {proc.stderr[-500:]}")
        pytest.skip("pinned TFLM tree not available (make third-party)")


def pinned_tflm_scores(model: Path, x: np.ndarray, tmp: Path) -> np.ndarray:
    """int8 scores of ``model`` on the pinned TFLM (host reference kernels) for clips ``x`` (n, frames, coeffs)."""
    require_pinned_tflm()
    proc = subprocess.run(["make", "-s", "tflm-reference"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"make tflm-reference failed:\n{proc.stderr[-2000:]}"
    clips, scores = tmp / "clips.bin", tmp / "scores.bin"
    clips.write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    proc = subprocess.run([str(TFLM_REFERENCE), str(model), str(clips), str(scores)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return np.frombuffer(scores.read_bytes(), np.int8).reshape(len(x), -1)


def assert_identical(actual: np.ndarray, reference: np.ndarray) -> None:
    diff = np.flatnonzero(np.any(actual != reference, axis=1))
    assert diff.size == 0, (f"{diff.size} of {len(reference)} clips differ, first {diff[0]}: "
                            f"{actual[diff[0]].tolist()} against the reference {reference[diff[0]].tolist()}")


def test_sigmoid_table_is_the_pinned_tflm_one() -> None:
    """The table read from the tflite-micro package equals the one in the pinned TFLM source."""
    require_pinned_tflm()
    text = (TFLM_HOST / "tensorflow/lite/kernels/internal/common.h").read_text()
    body = re.search(r"sigmoid_table_uint16\[256\] = \{([^}]*)\}", text)
    assert body is not None
    assert sigmoid_table() == [int(v) for v in body.group(1).split(",") if v.strip()]


def test_sigmoid_and_tanh_equal_the_pinned_tflm_ones_on_every_input(smoke_build: Path) -> None:
    """The engine's interpolation on its odd-symmetric table (firmware/src/native/kernels_test.cc) against TFLM's
    reference_integer_ops::Logistic and Tanh on all 65,536 int16 inputs, for every cell-state scale."""
    require_cxx()
    require_pinned_tflm()
    proc = subprocess.run(["make", "-s", "native-kernels-test", f"FW_MODEL={smoke_build}"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip().splitlines()[-1] == "2 tests, 0 failures", proc.stdout[-2000:]


def test_native_equals_tflm_on_the_test_split(smoke_build: Path, tmp_path: Path) -> None:
    """Real clips: the pinned TFLM and the PyPI build agree with the engine (and with each other)."""
    require_cxx()
    meta = load_meta(smoke_build)
    from data.datasets import load_split

    x = device_input(load_split(smoke_build / "features" / "test.npz")["x"], meta)
    tflm = TflmRunner(smoke_build / INT8_FILE)
    native = NativeRunner(smoke_build).batch(x)
    assert_identical(native, np.stack([tflm.scores(c) for c in x]))
    assert_identical(native, pinned_tflm_scores(smoke_build / INT8_FILE, x, tmp_path))
    # The quantize stage generated it and the evaluation (host.evaluate, through host.runtime) measured it.
    metrics = json.loads((smoke_build / "metrics.json").read_text())
    assert metrics["identical"]["native_tflm"] == 1.0


@pytest.fixture(scope="module")
def converter_config() -> dict:
    return load_config()


@pytest.mark.parametrize("arch,units,labels,frames,n", MODELS)
def test_native_equals_tflm_on_random_models(arch: str, units: int, labels: int, frames: int, n: int,
                                             tmp_path: Path, converter_config: dict) -> None:
    """Random weights (Keras' initializers, seeded), the pipeline's own int8 conversion, random calibration."""
    require_cxx()
    import tensorflow as tf

    from quantize.build import convert
    from train.model import build_model

    tf.keras.utils.set_random_seed(units * 31 + labels)
    cfg = dict(converter_config, model=dict(converter_config["model"], lstm_units=units))
    model = build_model((frames, NUM_COEFFS), labels, cfg["model"], arch)
    calib = np.random.default_rng(units).normal(0, 1, (16, frames, NUM_COEFFS)).astype(np.float32)
    tflite = convert(model, arch, cfg, calib)
    (tmp_path / INT8_FILE).write_bytes(tflite)
    (tmp_path / "gen").mkdir()
    write_native(tmp_path / "gen", tflite, "test")
    x = extreme_and_random(n, frames, seed=units)
    expected = pinned_tflm_scores(tmp_path / INT8_FILE, x, tmp_path)
    tflm = TflmRunner(tmp_path / INT8_FILE)
    assert_identical(np.stack([tflm.scores(c) for c in x]), expected)  # the host `tflm` backend is the board's
    # A constant model would prove little (two labels and 8 units still give some 30 distinct score pairs).
    assert len(np.unique(expected, axis=0)) >= MIN_DISTINCT_OUTPUTS, "degenerate model: too few distinct outputs"
    assert_identical(NativeRunner(tmp_path).batch(x), expected)


def test_unsupported_operator_is_refused_in_one_line(smoke_build: Path) -> None:
    """The smoke model with its REVERSE_V2 patched to TANH: the generator names the operator, writes nothing."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel((smoke_build / INT8_FILE).read_bytes(), 0))
    for code in model.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.REVERSE_V2:
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.TANH
    patched = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    with pytest.raises(Unsupported, match=r"^operator TANH \(operator 0\)$"):
        generate(patched)


# ---- the native engine in the firmware, on the emulated Cortex-M4F (the DSP path) ----------------------------------
NATIVE_EMU_CONFIG = "native-O2"


@pytest.fixture(scope="module")
def native_emu_build(smoke_build: Path) -> Path:
    """The smoke build with its native-engine image (``make firmware-emu ENGINE=native OPT=O2``; no TFLM)."""
    from tests.test_emulated_firmware import require_emulator

    from host.emulator import image_path

    require_emulator()
    out = image_path(smoke_build, NATIVE_EMU_CONFIG).parent
    proc = subprocess.run(["make", "-s", "-j2", "firmware-emu", "ENGINE=native", "OPT=O2",
                           f"FW_MODEL={smoke_build}"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"make firmware-emu ENGINE=native:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "libtflm" not in (out / "firmware.map").read_text(), "the native image must not link TFLM"
    return smoke_build


def test_emulated_native_firmware_passes_its_self_test_and_reports_its_engine(native_emu_build: Path) -> None:
    from host.dut import Dut
    from host.emulator import Emulator, image_path, read_boot
    from host.serial_device import SerialLink

    with Emulator(image_path(native_emu_build, NATIVE_EMU_CONFIG)) as emu, SerialLink(emu.url) as link:
        boot = read_boot(link, emu)
        dut = Dut(link)
        info = dut.handshake()
        # Random and extreme clips: the M4 path (SMLAD, SMMULR, SSAT) computes the host TFLM's bytes.
        x = extreme_and_random(12, info.frames, seed=7)
        scores = [dut.infer(clip.tobytes())[0].scores for clip in x]
    assert boot.selftest[1] > 0 and boot.selftest[0] == boot.selftest[1]
    assert (boot.kernels, boot.opt, info.engine, info.arena) == ("native", "O2", "native", 0)
    tflm = TflmRunner(native_emu_build / INT8_FILE)
    assert [list(s) for s in scores] == [tflm.scores(c).tolist() for c in x]


def test_harness_on_the_emulated_native_firmware_is_identical_to_tflm(native_emu_build: Path, tmp_path: Path) -> None:
    """``make harness PORT=emu ENGINE=native`` (port emu:native-O2 here): the whole test split, byte-identical."""
    from host import harness

    summary = harness.run(f"emu:{NATIVE_EMU_CONFIG}", native_emu_build, tmp_path, report=False)
    assert summary["clips"] == len(np.load(native_emu_build / "features" / "test.npz")["y"])
    assert summary["identical"]["device_tflm"] == 1.0


NATIVE_FUZZ_SECONDS = 20  # bounded run in the tests; `make firmware-native-fuzz FUZZ_SECONDS=...` for longer


def test_fuzzing_finds_no_input_where_native_and_tflm_differ(smoke_build: Path) -> None:
    """libFuzzer + ASan/UBSan (firmware/tests/native_fuzz.cc): the engine against TFLM's reference kernels."""
    from tests.test_emulated_firmware import require_emulator

    require_emulator()  # the pinned TFLM tree
    if shutil.which("clang++") is None:
        if IN_CI:
            pytest.fail("missing in CI: clang++")
        pytest.skip("the fuzz target needs clang++ (libFuzzer)")
    proc = subprocess.run(["make", "-s", "firmware-native-fuzz", f"FUZZ_SECONDS={NATIVE_FUZZ_SECONDS}",
                           f"FW_MODEL={smoke_build}"], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"fuzzing failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    runs = re.search(r"stat::number_of_executed_units:\s+(\d+)", proc.stderr)
    assert runs and int(runs.group(1)) > 0, proc.stderr[-2000:]
