"""The board build (Arduino Nano 33 BLE, Arduino mbed core 4.5.0, pinned TFLM): `make firmware-board-check` compiles
every board source with Arduino CLI's recipe and links without libmbed.a; a missing `setup` must fail it. The
PlatformIO and Arduino CLI builds cannot run here (they download the core); their flags are checked against the
recipe the offline check runs.

The check needs arm-none-eabi-g++ and ../shared/third_party (pinned archives): without them the tests skip, under
CI=true they fail. The first run compiles the mbed core and TFLM (minutes); objects are cached in build/firmware/board.
"""
from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
SHARED = ROOT.parent / "shared" / "third_party"
IN_CI = os.environ.get("CI", "").lower() == "true"
# A fresh build compiles ~300 files on two cores; cached runs take seconds.
CHECK_TIMEOUT_S = 3600
TFLM_CM4 = ROOT / "build/third_party/tflm-90b983c2-cortex-m4f-cmsis-nn"
ORIGINS = {"tflm", "cmsis_nn", "model", "selftest_clips", "app", "arduino_core", "libc"}

sys.path.insert(0, str(FIRMWARE / "tools"))
import arduino_recipe  # noqa: E402
import board_check  # noqa: E402


def require_board_inputs() -> None:
    missing = [why for ok, why in ((shutil.which("arm-none-eabi-g++"), "arm-none-eabi-g++ (Debian gcc-arm-none-eabi)"),
                                   (SHARED.is_dir(), f"{SHARED} (pinned third-party archives)")) if not ok]
    if missing:
        if IN_CI:
            pytest.fail(f"CI must run the board check; missing: {', '.join(missing)}")
        pytest.skip(f"board check needs {', '.join(missing)}")


def run_board_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "firmware-board-check", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT_S)


@pytest.mark.board
def test_board_image_compiles_links_and_reports_size():
    require_board_inputs()
    result = run_board_check()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((ROOT / "build/firmware/board_size.json").read_text())
    boards = arduino_recipe.read_properties(ROOT / "build/third_party/ArduinoCore-mbed-4.5.0/boards.txt")
    assert report["budget"] == {"flash": int(boards["nano33ble.upload.maximum_size"]),
                                "ram": int(boards["nano33ble.upload.maximum_data_size"])}
    assert ORIGINS <= set(report["by_origin"]), report["by_origin"]
    assert report["undefined_not_supplied"] == []
    assert report["undefined_supplied_by_mbed_os"] > 0  # linked without libmbed.a: mbed-os calls stay open
    assert 0 < report["total"]["flash"] < report["budget"]["flash"]
    assert 0 < report["total"]["ram"] < report["budget"]["ram"]
    for origin in ("tflm", "cmsis_nn", "app", "arduino_core", "libc"):
        assert report["by_origin"][origin]["flash"] > 0, origin
    assert "total" in result.stdout and "undefined symbols supplied by mbed-os" in result.stdout


@pytest.mark.board
def test_sense_image_listens_compiles_and_links():
    """BOARD=nano33ble_sense: the listener (PDM microphone, front end, RecognizeCommands) instead of the protocol,
    with the core's PDM library; the same offline recipe and link check (objects shared with the plain board's)."""
    require_board_inputs()
    result = run_board_check("BOARD=nano33ble_sense")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((ROOT / "build/firmware/board_size_nano33ble_sense.json").read_text())
    assert report["target"] == "nano33ble_sense" and report["undefined_not_supplied"] == []
    assert 0 < report["total"]["ram"] < report["budget"]["ram"]
    sketch = ROOT / "build/firmware/board/nano33ble_sense/src"
    assert (sketch / "listen/audio_provider_pdm.cpp").is_file() and not (sketch / "app/main_arduino.cpp").exists()
    assert not (sketch / "listen/audio_provider_mock.cpp").exists()


@pytest.mark.board
@pytest.mark.slow
def test_native_image_links_without_any_tflm(smoke_build: Path):
    """ENGINE=native: the board image with the model compiled to C (the smoke model's generated engine) links
    without the TFLM library, and none of its bytes come from TFLM or CMSIS-NN."""
    require_board_inputs()
    result = run_board_check("ENGINE=native", f"FW_BOARD_GEN={smoke_build / 'gen'}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((ROOT / "build/firmware/board_size_native.json").read_text())
    assert report["undefined_not_supplied"] == []
    assert report["by_origin"]["native_engine"]["flash"] > 0 and report["by_origin"]["model"]["flash"] > 0
    assert all(report["by_origin"].get(origin, {}).get("flash", 0) == 0 for origin in ("tflm", "cmsis_nn"))
    assert not (ROOT / "build/firmware/board-native/nano33ble/src/inference/inference_tflm.cpp").exists()


@pytest.mark.board
def test_setup_with_cpp_linkage_fails_the_link(tmp_path: Path):
    """Defect 4 of issue 16: without Arduino.h, setup() and loop() get C++ linkage and the core's main() cannot
    find them; the check must fail and name them."""
    require_board_inputs()
    src = tmp_path / "src"
    shutil.copytree(FIRMWARE / "src", src, ignore=shutil.ignore_patterns("generated"))
    main = src / "app/main_arduino.cc"
    text = main.read_text()
    assert "#include <Arduino.h>" in text
    main.write_text(text.replace("#include <Arduino.h>", ""))
    try:
        result = run_board_check(f"FW_BOARD_SRC={src}")
    finally:
        # Leave the cache with the real sources' objects for the next run.
        run_board_check()
    assert result.returncode != 0
    message = next((line for line in result.stderr.splitlines() if "mbed-os does not supply" in line), "")
    assert message.startswith("firmware-board-check: 2 undefined symbol(s)"), result.stderr[-2000:]
    assert re.search(r"\bsetup\b", message) and re.search(r"\bloop\b", message), message


@pytest.mark.firmware
def test_tflm_port_formats_like_printf(tmp_path: Path):
    """The board's DebugLog/DebugVsnprintf (no vsnprintf on the board) against the host C library's vsnprintf."""
    require_board_inputs()
    subprocess.run(["make", "-s", "third-party"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    exe = tmp_path / "tflm_port_test"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-format-truncation",
                    "-fsanitize=address,undefined", f"-I{FIRMWARE / 'tests/arduino_stub'}", f"-I{TFLM_CM4}",
                    str(FIRMWARE / "tests/tflm_port_test.cc"), str(FIRMWARE / "src/platform/tflm_port_arduino.cc"),
                    "-o", str(exe)], check=True, timeout=300)
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "0 failures", result.stdout


def test_platformio_flags_equal_the_checked_recipe():
    ini = configparser.ConfigParser()
    ini.read(FIRMWARE / "platformio.ini")
    env = ini["env:nano33ble"]
    lib = Path(env["lib_deps"].removeprefix("symlink://"))
    assert (FIRMWARE / lib).resolve() == ROOT / "build/arduino-libs/tflite_micro_90b983c2"  # board.mk's TFLM_LIB
    expected = arduino_recipe.tflm_flags(lib, ".cpp") + ["-Isrc"]
    assert env["build_src_flags"].split() == expected
    # Global flags would reach the mbed core: only the float ABI is set there, to the core's own softfp.
    assert "build_flags" not in env and env["build_unflags"].split() == ["-mfloat-abi=soft"]
    # The same files are left out of each board target's (TFLM) build by PlatformIO and by the Arduino sketch/offline
    # check; the native engine stays out of it too (board_check.py's NATIVE_ONLY, ENGINE=native).
    for target in board_check.TARGETS:
        section = ini[f"env:{target}"]
        excluded = [line.strip()[2:-1] for line in section["build_src_filter"].splitlines()
                    if line.strip().startswith("-<")]
        for path in (FIRMWARE / "src").rglob("*.cc"):
            rel = path.relative_to(FIRMWARE / "src").as_posix()
            by_pio = any(Path(rel).match(pattern.replace("**/", "")) for pattern in excluded)
            assert by_pio != board_check.board_source(rel, target), (target, rel)


def test_arduino_cli_wrapper_adds_flags_only_to_sketch_and_tflm(tmp_path: Path):
    lib, build = tmp_path / "libs/tflite", tmp_path / "build"
    sketch = build / "sketch"
    for f in (lib / "src/tensorflow/a.cpp", lib / "src/third_party/cmsis_nn/b.c", sketch / "src/app/app.cpp",
              tmp_path / "core/cores/arduino/wiring.cpp", sketch / "x.S"):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.touch()
    flags = arduino_recipe.extra_flags
    assert flags(lib / "src/tensorflow/a.cpp", lib, sketch)[0] == "-std=gnu++17"
    assert "-std=gnu++17" not in flags(lib / "src/third_party/cmsis_nn/b.c", lib, sketch)
    assert "-DTF_LITE_STATIC_MEMORY" in flags(lib / "src/third_party/cmsis_nn/b.c", lib, sketch)
    assert flags(sketch / "src/app/app.cpp", lib, sketch)[-1] == f"-I{sketch / 'src'}"
    assert flags(tmp_path / "core/cores/arduino/wiring.cpp", lib, sketch) == []
    assert flags(sketch / "x.S", lib, sketch) == []
    # Both argument orders of platform.txt's recipes (C: -o obj src; C++: src -o obj).
    assert arduino_recipe.source_of(["gcc", "-c", "-o", "x.c.o", "x.c"]) == Path("x.c")
    assert arduino_recipe.source_of(["g++", "-c", "x.cpp", "-o", "x.cpp.o"]) == Path("x.cpp")


def test_mbed_declarations_are_file_scope_only():
    header = """
    #ifdef __cplusplus
    extern "C" {
    #endif
    uint32_t (us_ticker_read)(void);
    void hal_init(int a, void (*cb)(void));
    extern int mbed_count;
    #ifdef __cplusplus
    }
    #endif
    namespace mbed { class Ticker { public: void setup(int x); }; }
    class USBDevice { void loop(); };
    static inline int helper(void) { return other_call(1); }
    """
    names, scopes = board_check.file_scope_declarations(header)
    assert {"us_ticker_read", "hal_init", "mbed_count", "helper"} <= names
    assert not {"setup", "loop", "other_call"} & names
    assert {"mbed", "USBDevice"} <= scopes
    supplied, missing = board_check.classify(
        ["us_ticker_read", "setup", "__wrap__malloc_r", "_ZN4mbed6Ticker5setupEi", "_ZN7arduino3fooEv"],
        {"_ZN4mbed6Ticker5setupEi": "mbed::Ticker::setup(int)", "_ZN7arduino3fooEv": "arduino::foo()"},
        names, scopes, {"_malloc_r"})
    assert supplied == ["us_ticker_read", "__wrap__malloc_r", "mbed::Ticker::setup(int)"]
    assert missing == ["setup", "arduino::foo()"]


@pytest.mark.board
def test_arduino_cli_gets_the_commands_the_check_runs(tmp_path: Path):
    """`make firmware-arduino` hands Arduino CLI the core's compile recipes behind arduino_recipe.py's wrapper; run
    through a stand-in compiler, they must give exactly the argv that the offline check runs, for a sketch file, a
    TFLM file and a core file."""
    require_board_inputs()
    subprocess.run(["make", "-s", "third-party"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    core = ROOT / "build/third_party/ArduinoCore-mbed-4.5.0"
    lib, sketch, build = tmp_path / "tflite_micro", tmp_path / "sketch_in", tmp_path / "build"
    toolchain = tmp_path / "bin"
    toolchain.mkdir()
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-g++"):
        fake = toolchain / tool
        fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                        "open(sys.argv[sys.argv.index('-o') + 1] + '.argv', 'w').write(json.dumps(sys.argv))\n")
        fake.chmod(0o755)
    checked = board_check.Build(core, lib, sketch, build, str(toolchain))
    wrapped = dict(p.split("=", 1) for p in arduino_recipe.arduino_cli_properties(core, lib))
    for source in (build / "sketch/src/app/app.cpp", lib / "src/tensorflow/lite/micro/micro_log.cpp",
                   checked.core_path / "wiring.cpp", lib / "src/third_party/cmsis_nn/Source/x.c"):
        obj = tmp_path / "out" / (source.name + ".o")
        obj.parent.mkdir(exist_ok=True)
        key = "recipe.c.o.pattern" if source.suffix == ".c" else "recipe.cpp.o.pattern"
        files = {"includes": checked.includes, "source_file": str(source), "object_file": str(obj)}
        line = arduino_recipe.expand(wrapped[key], checked.props, files)
        subprocess.run(arduino_recipe.split_command(line), check=True, timeout=60)
        expected = checked.command(source, obj)
        assert json.loads(Path(str(obj) + ".argv").read_text())[1:] == expected[1:], source
