"""The board build (Arduino Nano 33 BLE / BLE Sense, Arduino mbed core, pinned TFLM) and the firmware's build system.

`make firmware-board-check` compiles every board source with Arduino CLI's recipe and links without libmbed.a, for
each board and engine (ENGINE=native is the default; a missing `setup` must fail it). PlatformIO and Arduino CLI
cannot run here (they download their platform and core): what each would build is checked offline instead: the make
commands (`make -n`), the sketch Arduino CLI compiles, and PlatformIO's extra script run on a test double of its
construction environment. The source lists (firmware/sources.mk), pins, `make help` and the port syntax each have
one source, checked here.

The board checks need arm-none-eabi-g++ and ../shared/third_party (pinned archives): without them they skip, under
CI=true they fail. The first run compiles the mbed core and TFLM (minutes); the objects are cached outside the clone
(TP_CACHE, firmware/third_party.mk), the sketch's in build/firmware/board.
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
MAKE_N_TIMEOUT_S = 120

sys.path.insert(0, str(FIRMWARE / "tools"))
import arduino_build  # noqa: E402
import arduino_recipe  # noqa: E402
import mbed_symbols  # noqa: E402
import pio_sources  # noqa: E402
import sketch  # noqa: E402
import sources  # noqa: E402
import third_party  # noqa: E402

TP_BUILD = ROOT / "build/third_party"
TFLM_CM4 = TP_BUILD / third_party.pin_of("tflm-cm4")["dir"]
ARDUINO_MBED = TP_BUILD / third_party.pin_of("arduino-mbed")["dir"]
BOARDS = ("nano33ble", "nano33ble_sense")
# Sources under firmware/src that no image of sources.mk links: the host's test doubles (firmware.mk's FW_HOST_SRCS)
# and the host libraries built by Python (host/frontend.py: the front end; quantize/native_runner.py: the engine).
NOT_IN_IMAGES = {"src/inference/inference_fake.cc", "src/inference/audio_frontend_fake.cc",
                 "src/frontend/python_binding.cc", "src/native/native_api.cc"}


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


def make_dry(*args: str) -> str:
    """``make -n <args>``: what make would run (no tool needed)."""
    proc = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=MAKE_N_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def make_value(name: str, *args: str) -> str:
    """A make variable's value as the makefiles compute it."""
    proc = subprocess.run(["make", "-s", "--no-print-directory", *args, f"--eval=print-value: ; @echo $({name})",
                           "print-value"], cwd=ROOT, capture_output=True, text=True, timeout=MAKE_N_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def fake_gen(folder: Path, engine: str) -> Path:
    """A generated-model folder with the files ``engine`` needs (empty: for builds that are not compiled)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in sources.generated_files(engine):
        (folder / name).write_text("// test double of a generated file\n")
    return folder


def read_platformio_ini() -> configparser.ConfigParser:
    """platformio.ini with its `${section.option}` references resolved (configparser spells them `${section:option}`)."""
    ini = configparser.ConfigParser(interpolation=configparser.ExtendedInterpolation())
    ini.read_string(re.sub(r"\$\{(\w+)\.(\w+)\}", r"${\1:\2}", (FIRMWARE / "platformio.ini").read_text()))
    return ini


def board_report(build: Path, board: str, engine: str) -> dict:
    return json.loads((build / "firmware" / f"board_size_{board}_{engine}.json").read_text())


# ---- the offline board check -----------------------------------------------------------------------------------
@pytest.mark.board
def test_tflm_board_image_compiles_links_and_reports_size():
    """ENGINE=tflm on the plain board: TFLM and CMSIS-NN are linked, every undefined symbol is mbed-os's."""
    require_board_inputs()
    result = run_board_check("ENGINE=tflm")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = board_report(ROOT / "build", "nano33ble", "tflm")
    boards = arduino_recipe.read_properties(ARDUINO_MBED / "boards.txt")
    assert report["budget"] == {"flash": int(boards["nano33ble.upload.maximum_size"]),
                                "ram": int(boards["nano33ble.upload.maximum_data_size"])}
    assert report["engine"] == "tflm" and report["undefined_not_supplied"] == []
    assert report["undefined_supplied_by_mbed_os"] > 0  # linked without libmbed.a: mbed-os calls stay open
    assert 0 < report["total"]["flash"] < report["budget"]["flash"]
    assert 0 < report["total"]["ram"] < report["budget"]["ram"]
    for origin in ("tflm", "cmsis_nn", "model", "selftest_clips", "app", "arduino_core", "libc"):
        assert report["by_origin"][origin]["flash"] > 0, origin
    assert report["by_origin"]["native_engine"]["flash"] == 0
    assert "total" in result.stdout and "undefined symbols supplied by mbed-os" in result.stdout


@pytest.mark.board
def test_sense_tflm_image_reuses_the_plain_checks_third_party_objects():
    """BOARD=nano33ble_sense: the listener (PDM microphone, front end, RecognizeCommands) instead of the protocol,
    with the core's PDM library; the mbed core's and TFLM's objects are the plain board's (one compile command set):
    after the plain check, the Sense check compiles none of them, nor does `make third-party-objects-board` (what
    `make test` compiles first is what the checks link)."""
    require_board_inputs()
    assert run_board_check("ENGINE=tflm").returncode == 0
    result = run_board_check("BOARD=nano33ble_sense", "ENGINE=tflm")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = board_report(ROOT / "build", "nano33ble_sense", "tflm")
    assert report["target"] == "nano33ble_sense" and report["undefined_not_supplied"] == []
    assert 0 < report["total"]["ram"] < report["budget"]["ram"]
    assert report["compiled"]["core"] == report["compiled"]["variant"] == report["compiled"]["tflm"] == 0, report
    assert report["objects"]["tflm"] > 200 and report["objects"]["core_libraries"] > 0
    sketch_src = ROOT / "build/firmware/board/nano33ble_sense-tflm/nano33ble_sense/src"
    assert (sketch_src / "listen/audio_provider_pdm.cpp").is_file() and not (sketch_src / "app/main_arduino.cpp").exists()
    assert not (sketch_src / "listen/audio_provider_mock.cpp").exists()
    objects = subprocess.run(["make", "-s", "third-party-objects-board"], cwd=ROOT, capture_output=True, text=True,
                             timeout=CHECK_TIMEOUT_S)
    assert objects.returncode == 0, objects.stdout[-3000:] + objects.stderr[-3000:]
    assert "third-party objects of nano33ble_sense with TFLM: 0 compiled" in objects.stdout, objects.stdout[-3000:]


@pytest.mark.board
@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
def test_native_image_links_without_any_tflm(smoke_build: Path, board: str):
    """The default engine on both boards: the model compiled to C (the smoke model's generated engine) links without
    the TFLM library, and none of its bytes come from TFLM or CMSIS-NN."""
    require_board_inputs()
    result = run_board_check(f"BOARD={board}", f"FW_MODEL={smoke_build}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"board image {board} engine=native" in result.stdout
    report = board_report(smoke_build, board, "native")
    assert report["engine"] == "native" and report["undefined_not_supplied"] == []
    assert report["by_origin"]["native_engine"]["flash"] > 0 and report["by_origin"]["model"]["flash"] > 0
    assert report["by_origin"]["tflm"]["flash"] == report["by_origin"]["cmsis_nn"]["flash"] == 0
    assert report["objects"]["tflm"] == 0
    sketch_src = smoke_build / f"firmware/board/{board}-native/{board}/src"
    assert (sketch_src / "inference/inference_native.cpp").is_file()
    assert not (sketch_src / "inference/inference_tflm.cpp").exists()


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
    result = run_board_check("ENGINE=tflm", f"FW_BOARD_SRC={src}")
    assert result.returncode != 0
    message = next((line for line in result.stderr.splitlines() if "mbed-os does not supply" in line), "")
    assert message.startswith("firmware-board-check: 2 undefined symbol(s)"), result.stderr[-2000:]
    assert re.search(r"\bsetup\b", message) and re.search(r"\bloop\b", message), message


@pytest.mark.board
def test_third_party_objects_are_cached_outside_the_clone(tmp_path: Path):
    """Two clones on one machine share the cache (TP_CACHE): a check in a second build folder compiles only its
    sketch, and an object whose recorded command differs is compiled again. A tree without a checksum stamp (one's
    own) is never cached."""
    require_board_inputs()
    assert run_board_check("ENGINE=tflm").returncode == 0
    cxx = shutil.which("arm-none-eabi-g++")
    lib = ROOT / "build/arduino-libs/tflite_micro"
    sketch_dir = ROOT / "build/firmware/board/nano33ble-tflm/nano33ble"
    cache = Path(make_value("TP_CACHE"))
    build = arduino_build.Build(ARDUINO_MBED, lib, sketch_dir, tmp_path / "other-clone", str(Path(cxx).parent),
                                cache=cache)
    assert build.core_cache is not None and build.core_cache.is_relative_to(cache)
    units = build.units()
    assert all(arduino_build.up_to_date(u, build.command(u.source, u.obj, u.includes))
               for group in ("core", "variant", "tflm") for u in units[group])
    assert not any(u.obj.is_relative_to(ROOT) for group in ("core", "tflm") for u in units[group])
    first = units["tflm"][0]
    assert not arduino_build.up_to_date(first, build.command(first.source, first.obj, first.includes) + ["-DOTHER"])
    own = tmp_path / "own-core"
    own.mkdir()
    assert arduino_build.cache_folder(cache, own, "arduino-core", "12") is None


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


@pytest.mark.board
def test_arduino_cli_gets_the_commands_the_check_runs(tmp_path: Path):
    """`make firmware-arduino` hands Arduino CLI the core's compile recipes behind arduino_recipe.py's wrapper; run
    through a stand-in compiler, they must give exactly the argv that the offline check runs, for a sketch file, a
    TFLM file and a core file (TFLM build), and for a sketch file without the library (native build)."""
    require_board_inputs()
    subprocess.run(["make", "-s", "third-party"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    lib, sketch_in, build = tmp_path / "tflite_micro", tmp_path / "sketch_in", tmp_path / "build"
    toolchain = tmp_path / "bin"
    toolchain.mkdir()
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-g++"):
        fake = toolchain / tool
        fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                        "if sys.argv[1:] == ['-dumpfullversion']: print('0.0'); sys.exit()\n"
                        "open(sys.argv[sys.argv.index('-o') + 1] + '.argv', 'w').write(json.dumps(sys.argv))\n")
        fake.chmod(0o755)
    for with_lib in (lib, None):
        checked = arduino_build.Build(ARDUINO_MBED, with_lib, sketch_in, build, str(toolchain))
        wrapped = dict(p.split("=", 1) for p in arduino_recipe.arduino_cli_properties(ARDUINO_MBED, with_lib))
        files = [(build / "sketch/src/app/app.cpp", checked.sketch_includes)]
        if with_lib is not None:
            files += [(lib / "src/tensorflow/lite/micro/micro_log.cpp", checked.include_flags(lib / "src")),
                      (checked.core_path / "wiring.cpp", checked.include_flags()),
                      (lib / "src/third_party/cmsis_nn/Source/x.c", checked.include_flags(lib / "src"))]
        for source, includes in files:
            obj = tmp_path / "out" / (source.name + ".o")
            obj.parent.mkdir(exist_ok=True)
            key = "recipe.c.o.pattern" if source.suffix == ".c" else "recipe.cpp.o.pattern"
            line = arduino_recipe.expand(wrapped[key], checked.props,
                                         {"includes": includes, "source_file": str(source), "object_file": str(obj)})
            subprocess.run(arduino_recipe.split_command(line), check=True, timeout=60)
            expected = checked.command(source, obj, includes)
            assert json.loads(Path(str(obj) + ".argv").read_text())[1:] == expected[1:], source
        if with_lib is None:
            assert not any("TF_LITE" in a for a in expected), expected


# ---- each build path selects the engine (offline: make -n, the sketch, PlatformIO's extra script) --------------
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("engine", (None, "native", "tflm"))
def test_platformio_build_selects_the_engine(tmp_path: Path, board: str, engine: str | None):
    """`make -n firmware`: the PlatformIO environment <board>_<engine> (native by default) after the generated files
    of that engine are copied; the TFLM library only for ENGINE=tflm."""
    gen = fake_gen(tmp_path / "gen", engine or "native")
    # -B: every prerequisite's command, whether or not an earlier test built it (the TFLM library's stamp)
    out = make_dry("-B", "firmware", f"BOARD={board}", f"FW_MODEL={tmp_path}", *([f"ENGINE={engine}"] if engine else []))
    chosen = engine or "native"
    assert f"pio run -d firmware -e {board}_{chosen}\n" in out, out
    copied = set(re.findall(rf"cp {gen}/(\S+) firmware/src/generated/", out))
    assert copied <= set(sources.generated_files(chosen)) and ("native_model.cc" in copied) == (chosen == "native")
    assert ("tflm_arduino_lib.py" in out) == (chosen == "tflm")
    ini = read_platformio_ini()
    assert f"env:{board}_{chosen}" in ini


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("engine", ("native", "tflm"))
def test_arduino_cli_build_selects_the_engine(tmp_path: Path, board: str, engine: str):
    """`make -n firmware-arduino`: the sketch of the engine, the TFLM library and its flags only for ENGINE=tflm;
    the sketch itself holds exactly the image's sources, and only the TFLM one includes the library's header."""
    gen = fake_gen(tmp_path / "gen", engine)
    out = make_dry("firmware-arduino", f"BOARD={board}", f"ENGINE={engine}", f"FW_MODEL={tmp_path}")
    assert f"--target {board} --engine {engine} --gen {gen}" in out, out
    assert ("--libraries build/arduino-libs" in out) == ("--lib build/arduino-libs/tflite_micro" in out) \
        == (engine == "tflm")
    folder = tmp_path / "sketch" / board
    compiled = sketch.assemble(FIRMWARE / "src", FIRMWARE / "nano33ble/nano33ble.ino", gen, folder, board, engine)
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.cpp"))
    assert on_disk == sorted(compiled) == sorted(sketch.cpp_name(f if f.startswith("src/") else "src/" + f)
                                                 for f in sources.image(board, engine))
    includes_tflm = [p for p in folder.rglob("*") if p.is_file() and "<tflite_micro.h>" in p.read_text()]
    assert bool(includes_tflm) == (engine == "tflm"), includes_tflm
    assert "#include" not in (folder / f"{board}.ino").read_text()
    assert ((folder / "src/inference/inference_native.cpp").is_file(), (folder / "src/native/kernels.cpp").is_file(),
            (folder / "src/inference/inference_tflm.cpp").is_file()) == ((engine == "native",) * 2 + (engine == "tflm",))


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("engine", ("native", "tflm"))
def test_platformio_extra_script_compiles_the_image_with_the_checks_flags(board: str, engine: str):
    """tools/pio_sources.py on a test double of PlatformIO's construction environment: the build_src_filter keeps
    exactly IMAGE_<board>_<engine> of firmware/src (PlatformIO's filter semantics: patterns in order, the last match
    decides), and the project's flags are those the offline check gives the sketch."""
    ini = read_platformio_ini()
    env = FakeSConsEnv(f"{board}_{engine}", ini)
    pio_sources.configure(env, FIRMWARE)
    kept = set()
    for path in (FIRMWARE / "src").rglob("*.c*"):
        rel = path.relative_to(FIRMWARE / "src").as_posix()
        if rel.startswith(sources.GENERATED):  # `make firmware-gen`'s copies, compared below
            continue
        verdict = False
        for pattern in env["SRC_FILTER"]:
            if Path(rel).match(pattern[2:-1]) or pattern[2:-1] == "*":
                verdict = pattern[0] == "+"
        if verdict:
            kept.add("src/" + rel)
    expected = {f for f in sources.image(board, engine) if f.startswith("src/")}
    assert kept == expected
    assert {p[2:-1] for p in env["SRC_FILTER"] if p.startswith("+<generated/")} == \
        {f for f in sources.image(board, engine) if f.startswith("generated/")}
    lib = (FIRMWARE / "../build/arduino-libs/tflite_micro").resolve() if engine == "tflm" else None
    if lib is not None:  # board.mk's TFLM_LIB is the folder platformio.ini links
        assert (ROOT / make_value("TFLM_LIB")).resolve() == lib
    assert env["SRC_BUILD_FLAGS"] == arduino_recipe.extra_flags(FIRMWARE / "src/app/app.cpp", lib, FIRMWARE)
    assert env["SRC_BUILD_FLAGS"][-1] == f"-I{FIRMWARE / 'src'}"
    assert ("-DTF_LITE_STATIC_MEMORY" in env["SRC_BUILD_FLAGS"]) == (engine == "tflm")


class FakeSConsEnv(dict):
    """Test double of PlatformIO's SCons construction environment: the calls tools/pio_sources.py makes."""

    def __init__(self, name: str, ini: configparser.ConfigParser):
        super().__init__(PIOENV=name)
        self.section = {**ini["env"], **ini[f"env:{name}"]}

    def GetProjectOption(self, option: str, default: object = None) -> object:  # noqa: N802 (PlatformIO's name)
        value = self.section.get(option)
        return default if value is None else [v.strip() for v in value.splitlines() if v.strip()]

    def Replace(self, **values: object) -> None:  # noqa: N802
        self.update(values)

    def Exit(self, code: int) -> None:  # noqa: N802
        raise SystemExit(code)


def test_platformio_extra_script_refuses_an_environment_it_cannot_build():
    ini = read_platformio_ini()
    ini["env:nano33ble_cmsis"] = {}
    with pytest.raises(SystemExit):
        pio_sources.configure(FakeSConsEnv("nano33ble_cmsis", ini), FIRMWARE)
    ini["env:nano33ble_native"]["lib_deps"] = ini["env:nano33ble_tflm"]["lib_deps"]
    with pytest.raises(SystemExit):  # a TFLM library in a native environment
        pio_sources.configure(FakeSConsEnv("nano33ble_native", ini), FIRMWARE)


def test_native_is_the_default_and_unknown_values_stop():
    assert make_value("ENGINE") == "native"
    for args, message in ((("ENGINE=cmsis",), "ENGINE must be native or tflm"),
                          (("ENGINE=native", "KERNELS=ref"), "ENGINE=native has none: add ENGINE=tflm"),
                          (("BOARD=uno",), "BOARD must be nano33ble or nano33ble_sense"),
                          (("OPT=O2", "firmware"), "KERNELS= and OPT= are the emulator's")):
        proc = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=MAKE_N_TIMEOUT_S)
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_model_the_native_engine_cannot_run_stops_every_build_naming_tflm(tmp_path: Path):
    """`make quantize` writes the native engine's reason instead of native_model.*: each build of the default engine
    stops with one line that quotes it and names ENGINE=tflm, and the TFLM build of the same model goes on."""
    from quantize.build import NATIVE_UNSUPPORTED_FILE

    gen = fake_gen(tmp_path / "gen", "tflm")
    assert [NATIVE_UNSUPPORTED_FILE] == sources.load()["FW_GEN_NATIVE_UNSUPPORTED"]
    (gen / NATIVE_UNSUPPORTED_FILE).write_text("operator GRU (operator 3)\n")
    for goal in ("firmware-gen", "firmware-emu", "firmware-sim", "firmware-listen-sim"):
        proc = subprocess.run(["make", "-s", goal, f"FW_MODEL={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
                              timeout=MAKE_N_TIMEOUT_S)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert proc.returncode != 0 and len(errors) == 1, (goal, proc.stderr)
        assert "operator GRU (operator 3)" in errors[0] and "ENGINE=tflm" in errors[0], errors
    with pytest.raises(sketch.SketchError, match=r"\(operator GRU \(operator 3\)\): build it with ENGINE=tflm"):
        sketch.assemble(FIRMWARE / "src", FIRMWARE / "nano33ble/nano33ble.ino", gen, tmp_path / "s", "nano33ble",
                        "native")
    assert "pio run -d firmware -e nano33ble_tflm" in make_dry("firmware", "ENGINE=tflm", f"FW_MODEL={tmp_path}")


def test_emulator_and_simulators_follow_the_engine(tmp_path: Path):
    """`make -n` of the emulated image, the host simulator and both listeners: the native engine's sources and
    model by default (no TFLM library), TFLM's with ENGINE=tflm."""
    fake_gen(tmp_path / "gen", "native")
    fake_gen(tmp_path / "gen", "tflm")
    engines = ["native"]
    if shutil.which("arm-none-eabi-g++") and SHARED.is_dir():  # TFLM's source lists come from its unpacked trees
        subprocess.run(["make", "-s", "third-party"], cwd=ROOT, check=True, capture_output=True, timeout=600)
        engines.append("tflm")
    for goal, image in (("emu-image", "emu"), ("sim-image", "host"), ("listen-emu-image", "emu_listen"),
                        ("listen-sim-image", "host_listen")):
        for engine in engines:
            out = make_dry(goal, f"FW_MODEL={tmp_path}", *([] if engine == "native" else ["ENGINE=tflm"]))
            for src in sources.image(image, engine):
                assert src.replace("generated/", "gen/generated/") in out, (goal, engine, src)
            other = "native" if engine == "tflm" else "tflm"
            for src in set(sources.image(image, other)) - set(sources.image(image, engine)):
                assert f"{src} " not in out and not out.count(f"/{src}.o "), (goal, engine, src)
            assert ("libtflm.a" in out) == (engine == "tflm"), (goal, engine)


# ---- one source per list ------------------------------------------------------------------------------------
def test_make_reads_the_same_source_lists_as_python():
    lists = sources.load()
    for name in [n for n in lists if n.startswith(("IMAGE_", "FW_GEN_FILES_"))]:
        assert make_value(name).split() == lists[name], name


def test_every_firmware_source_is_in_an_image_once():
    """A new source file must be added to firmware/sources.mk (the one list): every non-test source under
    firmware/src and firmware/emu is in some image or in NOT_IN_IMAGES, each image lists a file once, and every
    listed file exists."""
    lists = sources.load()
    images = {name: files for name, files in lists.items() if name.startswith("IMAGE_")}
    assert len(images) == len(sources.TARGETS) * len(sources.ENGINES)
    listed = set()
    for name, files in images.items():
        assert len(files) == len(set(files)), name
        for f in files:
            assert f.startswith(sources.GENERATED) or (FIRMWARE / f).is_file(), (name, f)
        listed |= set(files)
    found = {p.relative_to(FIRMWARE).as_posix() for folder in ("src", "emu") for p in (FIRMWARE / folder).rglob("*")
             if p.suffix in (".cc", ".c") and not p.name.endswith("_test.cc") and "generated" not in p.parts}
    assert found - listed == NOT_IN_IMAGES


def test_sources_parser_rejects_what_make_would_read_differently():
    assert sources.parse("A := x y \\\n  z # comment\nB := $(A) w\n") == {"A": ["x", "y", "z"], "B": ["x", "y", "z", "w"]}
    for text in ("A = x\n", "A := $(B)\n", "A := $(addprefix x,y)\n", "A += x\n"):
        with pytest.raises(sources.SourcesError):
            sources.parse(text)


def test_the_pinned_revisions_are_written_only_in_pins_json():
    """Build files take the TFLM revision and the core version from pins.json (third_party.py vars)."""
    words = set()
    for name in ("tflm-cm4", "tflm-host", "arduino-mbed"):
        pin = third_party.pin_of(name)
        words |= {pin["dir"], third_party.revision(name)}
    files = [*FIRMWARE.glob("*.mk"), FIRMWARE / "emu/emu.mk", FIRMWARE / "platformio.ini", ROOT / "Makefile",
             *FIRMWARE.glob("tools/*.py"), Path(__file__)]
    for f in files:
        text = f.read_text()
        assert not [w for w in words if w in text], f
    assert make_value("TFLM_CM4") == f"build/third_party/{third_party.pin_of('tflm-cm4')['dir']}"
    assert make_value("ARDUINO_CORE_VERSION") == third_party.revision("arduino-mbed")


def test_one_variable_chooses_the_model_and_one_rule_copies_it(tmp_path: Path):
    """FW_MODEL=<build> moves every image's generated files and outputs; the files are copied by one rule."""
    values = {name: make_value(name, f"FW_MODEL={tmp_path}") for name in
              ("FW_GEN", "FW_EMU_DIR", "FW_SIM_DIR", "LISTEN_DIR", "NATIVE_FUZZ_DIR", "FW_BOARD_OUT", "FW_BOARD_REPORT")}
    assert values["FW_GEN"] == f"{tmp_path}/gen"
    assert all(v.startswith(f"{tmp_path}/firmware/") for k, v in values.items() if k != "FW_GEN"), values
    makefiles = [*FIRMWARE.glob("*.mk"), FIRMWARE / "emu/emu.mk", ROOT / "host/host.mk", ROOT / "Makefile"]
    copies = [line for f in makefiles for line in f.read_text().splitlines() if re.match(r"\s+@?cp ", line)]
    assert len(copies) == 1, copies


def test_make_help_lists_every_target_once():
    phony = set()
    makefiles = [ROOT / "Makefile", *FIRMWARE.glob("*.mk"), FIRMWARE / "emu/emu.mk", ROOT / "host/host.mk",
                 ROOT / "demo/demo.mk"]
    for f in makefiles:
        for line in f.read_text().splitlines():
            if line.startswith(".PHONY:"):
                phony |= set(line.split()[1:])
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    listed = re.findall(r"^  make (\S+)", out, re.M)
    assert len(listed) == len(set(listed)), [t for t in listed if listed.count(t) > 1]
    assert set(listed) == phony, (phony - set(listed), set(listed) - phony)


# ---- the port syntax, parsed once (host/emulator.py) ------------------------------------------------------------
def test_harness_port_is_resolved_by_the_emulator_module():
    from host.emulator import EmulatorError, resolve

    assert resolve("emu", "native", "cmsis", "Os") == ["emu:native-Os", "ENGINE=native", "OPT=Os"]
    assert resolve("emu", "tflm", "ref", "O2") == ["emu:ref-O2", "ENGINE=tflm", "KERNELS=ref", "OPT=O2"]
    assert resolve("emu:cmsis-O2", "native", "cmsis", "Os") == ["emu:cmsis-O2", "ENGINE=tflm", "KERNELS=cmsis",
                                                                 "OPT=O2"]
    assert resolve("/dev/ttyACM0", "native", "cmsis", "Os") == ["/dev/ttyACM0"]
    with pytest.raises(EmulatorError, match="ENGINE=native"):
        resolve("emu:cmsis-O2", "native", "cmsis", "Os", engine_given=True)
    with pytest.raises(EmulatorError, match="unknown emulator configuration"):
        resolve("emu:cmsis-O3", "native", "cmsis", "Os")
    if not (ROOT / ".venv/bin/python").exists():
        pytest.skip("make harness PORT=emu needs .venv")
    out = make_dry("harness", "PORT=emu", "OPT=O2")
    assert "firmware-emu ENGINE=native OPT=O2" in out and '--port "emu:native-O2"' in out, out
    assert '--port "emu:cmsis-Os"' in make_dry("harness", "PORT=emu", "ENGINE=tflm")


# ---- the check's own parts ---------------------------------------------------------------------------------------
def test_arduino_cli_wrapper_adds_flags_only_to_sketch_and_tflm(tmp_path: Path):
    lib, build = tmp_path / "libs/tflite", tmp_path / "build"
    sketch_dir = build / "sketch"
    for f in (lib / "src/tensorflow/a.cpp", lib / "src/third_party/cmsis_nn/b.c", sketch_dir / "src/app/app.cpp",
              tmp_path / "core/cores/arduino/wiring.cpp", sketch_dir / "x.S"):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.touch()
    flags = arduino_recipe.extra_flags
    assert flags(lib / "src/tensorflow/a.cpp", lib, sketch_dir)[0] == "-std=gnu++17"
    assert "-std=gnu++17" not in flags(lib / "src/third_party/cmsis_nn/b.c", lib, sketch_dir)
    assert "-DTF_LITE_STATIC_MEMORY" in flags(lib / "src/third_party/cmsis_nn/b.c", lib, sketch_dir)
    assert flags(sketch_dir / "src/app/app.cpp", lib, sketch_dir)[-1] == f"-I{sketch_dir / 'src'}"
    assert flags(sketch_dir / "src/app/app.cpp", None, sketch_dir) == ["-std=gnu++17", f"-I{sketch_dir / 'src'}"]
    assert flags(tmp_path / "core/cores/arduino/wiring.cpp", lib, sketch_dir) == []
    assert flags(sketch_dir / "x.S", lib, sketch_dir) == []
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
    names, scopes = mbed_symbols.file_scope_declarations(header)
    assert {"us_ticker_read", "hal_init", "mbed_count", "helper"} <= names
    assert not {"setup", "loop", "other_call"} & names
    assert {"mbed", "USBDevice"} <= scopes
    supplied, missing = mbed_symbols.classify(
        ["us_ticker_read", "setup", "__wrap__malloc_r", "_ZN4mbed6Ticker5setupEi", "_ZN7arduino3fooEv"],
        {"_ZN4mbed6Ticker5setupEi": "mbed::Ticker::setup(int)", "_ZN7arduino3fooEv": "arduino::foo()"},
        names, scopes, {"_malloc_r"})
    assert supplied == ["us_ticker_read", "__wrap__malloc_r", "mbed::Ticker::setup(int)"]
    assert missing == ["setup", "arduino::foo()"]
