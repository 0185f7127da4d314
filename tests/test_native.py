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
from dataclasses import dataclass
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
TFLM_HOST = REPO / "build" / "third_party" / "tflm-90b983c2-host-reference"
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
    proc = subprocess.run(["make", "-s", "native-kernels-test", f"NATIVE_FUZZ_GEN={smoke_build / 'gen'}",
                           f"NATIVE_FUZZ_DIR={smoke_build / 'firmware' / 'native-fuzz'}"], cwd=REPO,
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


@dataclass
class RandomModel:
    """A random model's folder (its .tflite and generated C++), its clips and their pinned-TFLM scores."""
    folder: Path
    x: np.ndarray
    expected: np.ndarray


@pytest.fixture(scope="module")
def random_models(tmp_path_factory: pytest.TempPathFactory, converter_config: dict):
    """``get(spec, patches)``: MODELS' or VARIANTS' model, built on first use (the host and the emulated engine
    share one conversion each)."""
    cache: dict[str, RandomModel] = {}

    def get(spec: tuple, patches: dict | None = None) -> RandomModel:
        key = repr((spec, patches))
        if key not in cache:
            cache[key] = build_random_model(tmp_path_factory.mktemp(spec[0]), converter_config, spec, patches or {})
        return cache[key]

    return get


def convert_random_model(converter_config: dict, arch: str, units: int, labels: int, frames: int) -> bytes:
    """Random weights (Keras' initializers, seeded), the pipeline's own int8 conversion, random calibration."""
    require_cxx()
    import tensorflow as tf

    from quantize.build import convert
    from train.model import build_model

    tf.keras.utils.set_random_seed(units * 31 + labels)
    cfg = dict(converter_config, model=dict(converter_config["model"], lstm_units=units))
    model = build_model((frames, NUM_COEFFS), labels, cfg["model"], arch)
    calib = np.random.default_rng(units).normal(0, 1, (16, frames, NUM_COEFFS)).astype(np.float32)
    return convert(model, arch, cfg, calib)


def patched(tflite: bytes, input_scale: float = 1.0, recurrent_scale: tuple[float, ...] = (1.0,) * 4,
            cell_clip: float | None = None, cell_power: int | None = None, zero_sum_recurrent: bool = False) -> bytes:
    """``tflite`` with every LSTM changed: its input weight scales multiplied by ``input_scale``, its gates'
    recurrent weight scales by ``recurrent_scale`` (i, f, c, o), its cell clip and its cell state's scale
    (2^cell_power) set, its recurrent weight rows made to sum to zero (then its recurrent FC's zero-point term,
    hidden zp times the row sum, is zero). A valid model still, which TFLM runs as it is."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    sub = model.subgraphs[0]
    for op in sub.operators:
        if not isinstance(op.builtinOptions, schema.UnidirectionalSequenceLSTMOptionsT):
            continue
        for i, factor in zip(op.inputs[1:9], (input_scale,) * 4 + tuple(recurrent_scale)):
            q = sub.tensors[i].quantization
            q.scale = [float(v) * factor for v in q.scale]
        if zero_sum_recurrent:
            for i in op.inputs[5:9]:
                buffer = model.buffers[sub.tensors[i].buffer]
                w = np.clip(np.asarray(buffer.data, np.uint8).view(np.int8).astype(np.int64), -127, 127)
                w = w.reshape(sub.tensors[i].shape)
                half = w.shape[1] // 2  # the second half of each row mirrors the first, negated
                w[:, w.shape[1] - half:] = -w[:, :half][:, ::-1]
                w[:, half:w.shape[1] - half] = 0
                buffer.data = w.astype(np.int8).reshape(-1).view(np.uint8)
        if cell_clip is not None:
            op.builtinOptions.cellClip = cell_clip
        if cell_power is not None:
            sub.tensors[op.inputs[19]].quantization.scale = [2.0 ** cell_power]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def build_random_model(folder: Path, converter_config: dict, spec: tuple, patches: dict) -> RandomModel:
    arch, units, labels, frames, n = spec
    tflite = patched(convert_random_model(converter_config, arch, units, labels, frames), **patches)
    (folder / INT8_FILE).write_bytes(tflite)
    (folder / "gen").mkdir()
    write_native(folder / "gen", tflite, "test")
    x = extreme_and_random(n, frames, seed=units)
    expected = pinned_tflm_scores(folder / INT8_FILE, x, folder)
    # A constant model would prove little (two labels and 8 units still give some 30 distinct score pairs).
    assert len(np.unique(expected, axis=0)) >= MIN_DISTINCT_OUTPUTS, "degenerate model: too few distinct outputs"
    return RandomModel(folder, x, expected)


@pytest.mark.parametrize("spec", MODELS, ids=str)
def test_native_equals_tflm_on_random_models(spec: tuple, random_models) -> None:
    """The host build of the engine (its portable path) and the PyPI interpreter against the pinned TFLM."""
    m = random_models(spec)
    tflm = TflmRunner(m.folder / INT8_FILE)
    assert_identical(np.stack([tflm.scores(c) for c in m.x]), m.expected)  # the host `tflm` backend is the board's
    assert_identical(NativeRunner(m.folder).batch(m.x), m.expected)


# Host seconds for one run of the emulated engine on a model's clips (10,000 clips of the default shape take
# ~15 s of CPU on this machine; the margin covers a loaded CI runner).
EMU_CHECK_TIMEOUT_S = 900


def emulated_native_scores(folder: Path, x: np.ndarray, opt: str) -> np.ndarray:
    """int8 scores of ``folder``'s generated model on the emulated Cortex-M4F (``make native-emu-check``: the
    engine's DSP path, compiled at -``opt``) for clips ``x``."""
    from host.emulator import MACHINE, QEMU

    out = folder.resolve() / "firmware" / "native-fuzz"
    proc = subprocess.run(["make", "-s", "native-emu-check", f"OPT={opt}", f"NATIVE_FUZZ_GEN={folder / 'gen'}",
                           f"NATIVE_FUZZ_DIR={out}"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"make native-emu-check:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    run = folder / f"emu-check-{opt}"
    run.mkdir(exist_ok=True)
    (run / "clips.bin").write_bytes(np.ascontiguousarray(x, np.int8).tobytes())
    proc = subprocess.run([QEMU, "-M", MACHINE, "-cpu", "cortex-m4", "-nographic", "-nodefaults",
                           "-semihosting-config", "enable=on,target=native",
                           "-kernel", str(out / f"emu-check-{opt}" / "native_check.elf")],
                          cwd=run, capture_output=True, text=True, timeout=EMU_CHECK_TIMEOUT_S)
    assert proc.returncode == 0, f"the emulated engine failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return np.frombuffer((run / "scores.bin").read_bytes(), np.int8).reshape(len(x), -1)


@pytest.mark.parametrize("opt", ["O2", "Os"])
@pytest.mark.parametrize("spec", MODELS, ids=str)
def test_emulated_native_equals_tflm_on_random_models(spec: tuple, opt: str, random_models) -> None:
    """The engine's Cortex-M4 path (the one the board runs) on the same clips, at both optimisation levels."""
    from tests.test_emulated_firmware import require_emulator

    require_emulator()
    m = random_models(spec)
    assert_identical(emulated_native_scores(m.folder, m.x, opt), m.expected)


# Small random models changed (`patched`) so that together they take every code path of the generated LSTM:
# a gate FC's requantization with and without a rounding shift (the same for the four gates or not), a recurrent
# bias or none, a cell clip or an int16 saturation, tanh(cell)'s input scaled up or down, a hidden state with and
# without a last pair of columns.
# The trained models take the common ones (no rounding in the input FC, a clip); these the others.
VARIANT_SPEC = ("lstm", 3, 3, 20, 1_000)  # 6 units
VARIANTS = {"as converted": (VARIANT_SPEC, {}),
            "without roundings or a cell clip, cell scale 2^-12": (
                ("lstm", 2, 3, 20, 1_000),
                dict(input_scale=8.0, recurrent_scale=(32.0,) * 4, cell_clip=0.0, cell_power=-12)),
            "without a recurrent bias, the forget gate's shift one less": (
                VARIANT_SPEC, dict(zero_sum_recurrent=True, recurrent_scale=(1.0, 2.0, 1.0, 1.0)))}


def test_variant_models_take_every_code_path_of_the_lstm(random_models) -> None:
    from quantize.native import Emitter, parse

    seen: dict[str, set] = {}
    for spec, patches in VARIANTS.values():
        emitter = Emitter(parse((random_models(spec, patches).folder / INT8_FILE).read_bytes()))
        emitter.emit()
        for lstm in emitter.lstms:
            for what, value in (("input FC rounds", any(lstm.input_right)),
                                ("input FC exact", not all(lstm.input_right)),
                                ("recurrent FC rounds", any(lstm.recurrent_right)),
                                ("recurrent FC exact", not all(lstm.recurrent_right)),
                                ("gates' recurrent shifts differ", len(set(lstm.recurrent_right)) > 1),
                                ("recurrent bias", lstm.recurrent_bias), ("cell clip", lstm.cell_clip > 0),
                                ("tanh input shifted left", lstm.cell_tanh_shift >= 0),
                                ("last pair of hidden columns", lstm.h_cols % 4 == 2)):
                seen.setdefault(what, set()).add(value)
    assert {what: values for what, values in seen.items() if values != {True, False}} == {}


def test_gate_fc_whose_shifted_weights_overflow_int16_is_refused_in_one_line(converter_config: dict) -> None:
    """The kernels take a gate FC's left shift in its int16 weights; a multiplier of 2^9 or more does not fit."""
    tflite = patched(convert_random_model(converter_config, *VARIANT_SPEC[:4]), input_scale=1024.0)
    with pytest.raises(Unsupported, match=r"^LSTM input FC: weights shifted left by \d+ do not fit int16$"):
        generate(tflite)


@pytest.mark.parametrize("name", VARIANTS)
def test_native_equals_tflm_on_variant_models(name: str, random_models) -> None:
    """Each variant on the host (portable path) and on the emulated Cortex-M4F at -O2 and -Os."""
    from tests.test_emulated_firmware import require_emulator

    m = random_models(*VARIANTS[name])
    assert_identical(NativeRunner(m.folder).batch(m.x), m.expected)
    require_emulator()
    for opt in ("O2", "Os"):
        assert_identical(emulated_native_scores(m.folder, m.x, opt), m.expected)


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


def test_lstm_with_another_cell_activation_is_refused_in_one_line(smoke_build: Path) -> None:
    """The engine implements the tanh cell activation only (the converter crashes on a Keras LSTM with another)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel((smoke_build / INT8_FILE).read_bytes(), 0))
    for op in model.subgraphs[0].operators:
        if isinstance(op.builtinOptions, schema.UnidirectionalSequenceLSTMOptionsT):
            op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
    patched = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    with pytest.raises(Unsupported, match=r"^UNIDIRECTIONAL_SEQUENCE_LSTM cell activation 1 \(tanh only\)$"):
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
                           f"FW_EMU_GEN={smoke_build / 'gen'}", f"FW_EMU_DIR={out}"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
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
    out = smoke_build / "firmware" / "native-fuzz"
    proc = subprocess.run(["make", "-s", "firmware-native-fuzz", f"FUZZ_SECONDS={NATIVE_FUZZ_SECONDS}",
                           f"NATIVE_FUZZ_GEN={smoke_build / 'gen'}", f"NATIVE_FUZZ_DIR={out}"], cwd=REPO,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"fuzzing failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    runs = re.search(r"stat::number_of_executed_units:\s+(\d+)", proc.stderr)
    assert runs and int(runs.group(1)) > 0, proc.stderr[-2000:]


def test_seed_measurement_trains_each_seed_with_only_its_seed_changed(tmp_path: Path) -> None:
    """`make bench-native-seeds` (experiments/native_seeds.py): each seed's configuration is the active one with
    [train] seed set to it, nothing else ([dataset] has a seed of its own)."""
    from experiments.native_seeds import seed_config

    active = load_config()
    written = load_config(seed_config(active["train"]["seed"] + 7, tmp_path))
    assert written["train"]["seed"] == active["train"]["seed"] + 7
    assert written["dataset"]["seed"] == active["dataset"]["seed"]
    assert {**written, "train": {**written["train"], "seed": active["train"]["seed"]}} == active
