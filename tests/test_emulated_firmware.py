"""The real firmware (core, app, inference_tflm.cc, the smoke model's generated files, pinned TFLM with CMSIS-NN)
built for the Cortex-M4F and run on QEMU mps2-an386: boot and self-test, >= 100 clips through the harness with
scores identical to the host's TFLM, and the serial fault cases of test_host_virtual.py against it.

Skips without the ARM toolchain, qemu-system-arm or the pinned TFLM archive (../shared); fails under CI=true.
TFLM is compiled once into the third-party cache (TP_CACHE, firmware/third_party.mk; kept across runs and clones).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from data.config import PipelineError
from host import harness, serial_device
from host import protocol as p
from host.dut import Dut, DutError, Timeouts
from host.emulator import DEFAULT_CONFIG, QEMU, Emulator, image_path, make_args, read_boot
from host.fault_proxy import FaultProxy
from host.serial_device import LinkError, SerialLink
from host.faults import FaultInjector
from quantize.build import resolver_op_name
from data.artifacts import INT8_FILE
from quantize.model_io import TflmRunner, load_meta
from quantize.target import TARGET_ARENA_RATIO, check_pinned_tflm, pinned_tflm_ops

pytestmark = pytest.mark.firmware

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"
TFLM_ARCHIVE = REPO.parent / "shared" / "third_party" / "tflite-micro"
AUDIO_CLIPS = 6  # audio mode: about 32 KB of hex per clip over the emulated UART (seconds each)
MIN_CLIPS = 100  # the bar for "streams the test clips": more than the smoke test split (70) holds
BUILD_TIMEOUT_S = 1800  # TFLM + CMSIS-NN from scratch on a loaded 2-core runner; seconds once cached
# Short timeouts keep fault tests fast; correctness never depends on them (a late reply is only a retry).
FAST = Timeouts(hello_s=0.5, handshake_attempts=5, reply_s=0.3, infer_s=1.0, clip_attempts=8)


def require_emulator() -> None:
    missing = [tool for tool in ("arm-none-eabi-g++", QEMU) if shutil.which(tool) is None]
    if not TFLM_ARCHIVE.is_dir() and not (REPO / "build" / "third_party").is_dir():
        missing.append(str(TFLM_ARCHIVE))
    if missing:
        if IN_CI:
            pytest.fail(f"missing in CI: {', '.join(missing)}")
        pytest.skip(f"emulated firmware needs {', '.join(missing)}")


def build_emulated_firmware(build: Path) -> Path:
    """``build``'s model compiled into the emulated firmware at ``<build>/firmware/emu/cmsis-Os/firmware.elf``."""
    require_emulator()
    proc = subprocess.run(["make", "-s", "-j2", "firmware-emu", *make_args(DEFAULT_CONFIG), f"FW_MODEL={build}"],
                          cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, f"make firmware-emu failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert image_path(build).is_file()
    return build


@pytest.fixture(scope="session")
def emu_build(smoke_build: Path) -> Path:
    """The smoke build with its firmware image at ``<build>/firmware/emu/cmsis-Os/firmware.elf``."""
    return build_emulated_firmware(smoke_build)


@pytest.fixture
def emulator(emu_build: Path) -> Iterator[Emulator]:
    with Emulator(image_path(emu_build)) as emu:
        yield emu


def random_clips(n: int, seed: int, size: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size, dtype=np.int8).tobytes() for _ in range(n)]


def host_scores(build: Path, clip: bytes, shape: tuple[int, int]) -> tuple[int, ...]:
    """What the host's TFLM computes for ``clip``: the scores the firmware must send."""
    scores = TflmRunner(build / INT8_FILE).scores(np.frombuffer(clip, np.int8).reshape(shape))
    return tuple(int(s) for s in scores)


@pytest.mark.slow
def test_boot_reports_platform_kernels_stack_and_a_passing_self_test(emulator: Emulator, emu_build: Path) -> None:
    with SerialLink(emulator.url) as link:
        boot = read_boot(link, emulator)
        info = Dut(link).handshake()
        assert Dut(link).selftest() == p.SelftestResult(*boot.selftest)
    meta = load_meta(emu_build)
    assert boot.boot.model == info.model
    assert boot.selftest[1] > 0 and boot.selftest[0] == boot.selftest[1]
    assert (boot.platform, boot.kernels, boot.opt) == ("mps2-an386", "cmsis-nn", "Os")
    assert 0 < boot.stack_used < boot.stack_size
    assert list(info.labels) == meta["labels"]
    assert info.arena > 0


@pytest.mark.slow
def test_bench_emulated_measures_an_image(emu_build: Path) -> None:
    """``make bench-emulated``'s measurement of one image: its self-test clips (from the images' copy of the
    generated model), instructions, sizes by origin, stack, engine."""
    from experiments.emulated import measure_image

    r = measure_image(image_path(emu_build))
    assert r["clips_averaged"] > 0 and r["instructions_per_inference"] > 0 and r["engine"] == "tflm"
    assert 0 < r["flash_without_selftest_bytes"] < r["flash_bytes"] and 0 < r["stack_bytes"]
    assert r["flash_by_origin"]["tflm"] > 0 and r["selftest"].split("/")[0] == r["selftest"].split("/")[1]


@pytest.mark.slow
def test_target_arena_is_covered_by_the_generated_arena(emulator: Emulator, emu_build: Path) -> None:
    """quantize sizes kTensorArenaSize from the host measurement x TARGET_ARENA_RATIO (quantize/target.py): the
    arena CMSIS-NN actually uses on the Cortex-M4F must stay within that ratio and within the generated size."""
    with SerialLink(emulator.url) as link:
        read_boot(link, emulator)
        target_arena = Dut(link).handshake().arena
    meta = load_meta(emu_build)
    assert target_arena <= meta["arena_bytes"] * TARGET_ARENA_RATIO, "re-measure TARGET_ARENA_RATIO"
    assert target_arena <= meta["tensor_arena_size"]


def test_op_check_knows_what_the_pinned_tflm_provides() -> None:
    require_emulator()
    subprocess.run(["make", "-s", "third-party"], cwd=REPO, check=True, capture_output=True)
    _, available = pinned_tflm_ops(resolver_op_name)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2", "MEAN", "FULLY_CONNECTED"} <= available
    check_pinned_tflm(["REVERSE_V2", "SOFTMAX"], resolver_op_name)
    with pytest.raises(PipelineError, match="pinned TFLM has no kernel for \\['NO_SUCH_OP'\\]"):
        check_pinned_tflm(["SOFTMAX", "NO_SUCH_OP"], resolver_op_name)


@pytest.mark.slow
def test_harness_streams_clips_identical_to_host_tflm(emu_build: Path, tmp_path: Path) -> None:
    """PORT=emu end to end on >= 100 clips: the smoke set's WAV folder (its test split has only 70)."""
    summary = harness.run("emu", emu_build, tmp_path, data_dir=emu_build / "synth", n=MIN_CLIPS + 20,
                          report=False)
    assert summary["clips"] >= MIN_CLIPS
    assert summary["identical"]["device_tflm"] == 1.0
    assert re.search(r"self-test (\d+)/\1\b", summary["device"]["port"]), summary["device"]["port"]
    assert summary["device"]["retries"] == 0
    assert summary["latency"]["cycles"]["min"] > 0  # the instruction counter of platform_mps2.cc runs


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.slow
def test_damaged_lines_lose_nothing_and_corrupt_nothing(emulator: Emulator, emu_build: Path, seed: int) -> None:
    """Dropped, flipped and truncated lines in both directions between harness and firmware: every clip still
    yields exactly the host's scores, and the faults really happened (retries were needed)."""
    with FaultProxy(emulator.url, FaultInjector(rate=0.03, seed=seed)) as proxy, SerialLink(proxy.url) as link:
        dut = Dut(link, timeouts=FAST)
        info = dut.handshake()
        shape = (info.frames, info.coeffs)
        for clip in random_clips(40, seed, info.input_bytes):
            result, _ = dut.infer(clip)
            assert result.scores == host_scores(emu_build, clip, shape)
        assert dut.retries > 0


@pytest.mark.slow
def test_board_resets_mid_session_lose_nothing(emulator: Emulator, emu_build: Path) -> None:
    """A reset of the emulated board (QEMU system_reset) between clips: the firmware reboots (BOOT), the DUT
    re-synchronises and every clip still yields the host's scores."""
    with SerialLink(emulator.url) as link:
        dut = Dut(link, timeouts=FAST)
        info = dut.handshake()
        for i, clip in enumerate(random_clips(9, seed=8, size=info.input_bytes)):
            if i % 3 == 2:
                emulator.reset()
            result, _ = dut.infer(clip)
            assert result.scores == host_scores(emu_build, clip, (info.frames, info.coeffs))
        assert dut.resets + dut.retries > 0


@pytest.mark.slow
def test_stale_replies_are_never_taken_for_new_ones(emulator: Emulator, emu_build: Path) -> None:
    with SerialLink(emulator.url) as link:
        dut = Dut(link, timeouts=FAST)
        info = dut.handshake()
        a, b = random_clips(2, seed=5, size=info.input_bytes)
        link.write(p.encode_command("LOAD", 0, a[:p.PROTO_MAX_CHUNK]))  # abandoned: its OK LOAD stays queued
        link.write(p.encode_command("HELLO"))
        result, _ = dut.infer(b)
        assert result.scores == host_scores(emu_build, b, (info.frames, info.coeffs))


@pytest.mark.slow
def test_model_mismatch_is_refused(emulator: Emulator) -> None:
    with SerialLink(emulator.url) as link:
        with pytest.raises(DutError, match="but the local build is deadbeef"):
            Dut(link, expected_model="deadbeef").handshake()


@pytest.mark.slow
def test_stopped_emulator_ends_in_a_link_error(emu_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serial_device, "REOPEN_ATTEMPTS", 2)
    monkeypatch.setattr(serial_device, "REOPEN_DELAY_S", 0.01)
    emu = Emulator(image_path(emu_build))
    emu.start()
    try:
        with SerialLink(emu.url) as link:
            dut = Dut(link, timeouts=FAST)
            info = dut.handshake()
            emu.stop()
            with pytest.raises((LinkError, DutError)):
                dut.infer(random_clips(1, seed=4, size=info.input_bytes)[0])
    finally:
        emu.stop()


@pytest.mark.slow
def test_host_simulator_is_the_firmware_with_real_tflm(smoke_build: Path) -> None:
    """make firmware-sim ENGINE=tflm: inference_tflm.cc on the host TFLM tree; its scores equal the Python TFLM's."""
    sim = build_sim(smoke_build)
    frames, coeffs = np.load(smoke_build / "features" / "test.npz")["x"].shape[1:]
    clips = random_clips(4, seed=6, size=frames * coeffs)
    commands = p.encode_command("HELLO")
    for clip in clips:
        for offset in range(0, len(clip), p.PROTO_MAX_CHUNK):
            commands += p.encode_command("LOAD", offset, clip[offset:offset + p.PROTO_MAX_CHUNK])
        commands += p.encode_command("INFER")
    commands += p.encode_command("SELFTEST")
    run = subprocess.run([str(sim)], input=commands, capture_output=True, timeout=60)
    replies = [p.parse_device_line(line) for line in run.stdout.splitlines(keepends=True)]
    infos = [r for r in replies if isinstance(r, p.HelloInfo)]
    results = [r for r in replies if isinstance(r, p.InferResult)]
    selftest = [r for r in replies if isinstance(r, p.SelftestResult)]
    assert len(infos) == 1 and infos[0].arena > 0, run.stdout[-2000:]
    assert [r.scores for r in results] == [host_scores(smoke_build, c, (frames, coeffs)) for c in clips]
    assert selftest and selftest[0].passed == selftest[0].total > 0


def build_sim(model: Path) -> Path:
    """``make firmware-sim ENGINE=tflm`` of the model of the build folder ``model``; the simulator's path."""
    if not TFLM_ARCHIVE.is_dir() and not (REPO / "build" / "third_party").is_dir():
        if IN_CI:
            pytest.fail(f"missing in CI: {TFLM_ARCHIVE}")
        pytest.skip(f"the simulator with real TFLM needs {TFLM_ARCHIVE}")
    proc = subprocess.run(["make", "-s", "-j2", "firmware-sim", "ENGINE=tflm", f"FW_MODEL={model}"],
                          cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, f"make firmware-sim failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return model / "firmware" / "host-tflm" / "sim"


@pytest.mark.slow
def test_model_check_names_a_missing_operator(smoke_build: Path, tmp_path: Path) -> None:
    """The smoke model with its REVERSE_V2 turned into TANH (not registered): the firmware boots, names the operator
    instead of a failed allocation, and still answers HELLO."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    from quantize.codegen import write_model_data

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel((smoke_build / INT8_FILE).read_bytes(), 0))
    for code in model.operatorCodes:
        if code.builtinCode == schema.BuiltinOperator.REVERSE_V2:
            code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.TANH
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    gen = tmp_path / "gen"
    shutil.copytree(smoke_build / "gen", gen)
    write_model_data(gen, bytes(builder.Output()), "test: REVERSE_V2 -> TANH")
    sim = build_sim(tmp_path)
    run = subprocess.run([str(sim)], input=p.encode_command("HELLO"), capture_output=True, timeout=60)
    lines = run.stdout.decode().splitlines()
    assert "# model check failed: operator TANH not registered" in lines, lines
    assert any(line.startswith("OK HELLO ") for line in lines), lines


@pytest.mark.slow
def test_harness_audio_mode_device_features_are_the_hosts(emu_build: Path, tmp_path: Path) -> None:
    """INPUT=audio on the emulated Cortex-M4F: the firmware's front end computes from 16-bit audio the bytes of
    the same C++ built for the host and the pipeline's features (PROTOCOL.md, HEAR and FEATURES)."""
    summary = harness.run("emu", emu_build, tmp_path, n=AUDIO_CLIPS, report=False, input_kind="audio")
    fe = summary["frontend"]
    assert summary["clips"] == AUDIO_CLIPS
    assert fe["host_binding_identical_clips"] == 1.0
    assert fe["identical_values"] >= 0.99 and fe["max_abs_diff"] <= 1
    assert fe["same_audio"]["identical_values"] >= 0.99 and fe["same_audio"]["max_abs_diff"] <= 1
    assert summary["model_on_device_features"]["identical"] == 1.0
    assert fe["latency"]["cycles"]["min"] > 0 and summary["latency"]["cycles"]["min"] > 0


@pytest.mark.slow
def test_hear_answers_not_a_word_to_a_tone(emu_build: Path, tmp_path: Path) -> None:
    """HEAR on the emulated Cortex-M4F: the firmware's front end hears the tones and answers not-a-word whatever
    the model scores; every answer (tones, glides, noise bursts, notes, spoken clips) is the host's."""
    from test_frontend import check_tone_answers, tone_folder

    out = tmp_path / "harness"
    summary = harness.run("emu", emu_build, out, data_dir=tone_folder(tmp_path), report=False, input_kind="audio")
    check_tone_answers(summary, out)


def test_bench_table_has_the_images_and_the_listeners() -> None:
    """``make bench-emulated``'s table: images (instructions, sizes by origin) and listeners (per hop) side by side;
    a listener has no flash by origin of its own."""
    from experiments.emulated import ORIGINS, markdown_table

    image = {"instructions_per_inference": 1_046_500, "flash_bytes": 60_000, "flash_without_selftest_bytes": 50_000,
             "static_ram_bytes": 40_000, "stack_bytes": 1_300, "arena_used_bytes": 0,
             "flash_by_origin": {o: 100 for o in ORIGINS}}
    listener = {"hops": 40, "instructions_per_hop_median": 2_000_000, "instructions_per_hop_max": 2_100_000,
                "budget_share": 0.1313, "frontend_per_hop_max": 1_000_000, "inference_per_hop_max": 1_050_000,
                "bookkeeping_per_hop_max": 50_000, "first_window_instructions": 6_000_000}
    table = markdown_table({"native-O2": image, "listener-native": listener})
    assert "| native-O2 | 1,046,500 |" in table and "| listener-native | 40 | 2,000,000 | 2,100,000 | 13.1% |" in table
