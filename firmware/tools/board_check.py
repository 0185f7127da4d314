"""Offline board build check (`make firmware-board-check`): runs Arduino CLI's recipe for the Nano 33 BLE on every
board source, links the image without the prebuilt mbed-os library (libmbed.a), fails on any undefined symbol that
mbed-os does not supply, and reports flash and static RAM by origin against the board's budget.

    board_check.py sketch --src firmware/src --ino firmware/nano33ble/nano33ble.ino --gen DIR --out SKETCH_DIR
    board_check.py check --core DIR --lib DIR --sketch SKETCH_DIR --build DIR --report board_size.json [--jobs 2]

`sketch` assembles the sketch folder that Arduino CLI compiles (`make firmware-arduino` uses it too): the .ino, the
board's sources under src/ (host-only files left out, .cc renamed .cpp as Arduino CLI compiles only .cpp) and the
generated model files under src/generated/. `check` does what `arduino-cli compile` does with that folder, in
Arduino CLI's order: the .ino becomes <name>.ino.cpp behind `#include <Arduino.h>`; the sketch, the TFLM library,
the variant and the core (cores/arduino, recursively) are compiled with platform.txt's recipe.{c,cpp,S}.o.pattern
plus arduino_recipe.extra_flags; core objects are archived with recipe.ar.pattern; the linker script goes through
the prelink hook; recipe.c.combine.pattern links. Objects are cached under --build (recompiled when the command or a
dependency from the -MMD file changes).

What "supplied by mbed-os" means (the link has no libmbed.a, so its symbols are undefined; each remaining undefined
symbol is classified, and anything not classified as mbed-os fails the check):
  * `__wrap_<f>` for every `-Wl,--wrap,<f>` of the variant's ldflags.txt (mbed-os's malloc/exit/main wrappers);
  * C symbols declared at file scope (outside any class, struct or function body; extern "C" blocks count as file
    scope) in a header under cores/arduino/mbed/: the HAL, RTOS (CMSIS-RTOS2/RTX), USB, nRF SDK and platform C APIs;
  * C++ symbols whose outermost scope is a namespace, class or struct declared at file scope in those headers
    (mbed::, rtos::, events::, USBDevice, ...), including their vtables, and C++ functions declared at file scope
    there (get_usb_phy()).
Everything else, e.g. `setup` and `loop` when main_arduino.cc gives them C++ linkage, or any arduino:: or TFLM symbol,
is a defect. libmbed.a's own objects are not in the link, so symbols that only they would reference are not seen.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arduino_recipe as ar  # noqa: E402

# Board sources are src/ minus these files of the host and the emulated board, minus the other board target's
# application (TARGETS); platformio.ini's build_src_filter of each env lists the same.
HOST_ONLY = re.compile(r"(_test\.cc$|^platform/platform_host\.|^platform/platform_mps2\.cc$|"
                       r"^inference/(inference|audio_frontend)_fake\.cc$|^frontend/python_binding\.cc$|"
                       r"^app/main_host\.cc$|^app/main_listen_host\.cc$|^listen/audio_provider_mock\.|^generated/)")
# Board targets (make BOARD=...), both FQBN arduino:mbed_nano:nano33ble: the Nano 33 BLE runs the serial protocol
# (app/main_arduino.cc); the Nano 33 BLE Sense listens to its PDM microphone (app/main_listen_arduino.cc, listen/)
# and needs the mbed core's PDM library.
TARGETS = {
    "nano33ble": {"exclude": re.compile(r"^listen/|^app/main_listen_arduino\.cc$"), "core_libs": ()},
    "nano33ble_sense": {"exclude": re.compile(r"^app/main_arduino\.cc$"), "core_libs": ("PDM",)},
}
GENERATED = ("model_data.h", "model_data.cc", "model_settings.h", "selftest_data.h", "selftest_data.cc")
# The native engine's sources (ENGINE=native, firmware/src/native): not part of the TFLM board build; the TFLM
# sources are not part of the native one, which needs no TFLM library (nor the .ino's include that pulls it in).
NATIVE_ONLY = re.compile(r"^(inference/inference_native\.cc|native/)")
TFLM_ONLY = re.compile(r"^(inference/inference_tflm\.cc|platform/tflm_port_arduino\.cc)$")
TFLM_INCLUDE = "#include <tflite_micro.h>\n"
# model_data.h stays declared (generated_model.h includes it); its flatbuffer is not linked.
GENERATED_NATIVE = ("model_data.h", "model_settings.h", "selftest_data.h", "selftest_data.cc", "native_model.h",
                    "native_model.cc")
SOURCE_SUFFIXES = {".c", ".cpp", ".S"}
LIBMBED = "libmbed.a"
PROJECT = "nano33ble.ino"
# Output sections that hold the program in flash / static data in RAM (the rest of RAM is mbed-os's heap and stack).
FLASH_SECTIONS = re.compile(r"^\.(text|rodata|ARM\.(exidx|extab)|data|sdh_\w+)")
RAM_SECTIONS = re.compile(r"^\.(data|bss|uninitialized|noinit)")


class CheckError(Exception):
    """One line for the user: what failed and where."""


# ---- sketch folder ------------------------------------------------------------------------------------------------
def board_source(rel: str, target: str, engine: str = "tflm") -> bool:
    """Whether the file ``rel`` (relative to firmware/src) is part of ``target``'s board build with ``engine``."""
    engine_skip = TFLM_ONLY if engine == "native" else NATIVE_ONLY
    return not HOST_ONLY.search(rel) and not TARGETS[target]["exclude"].search(rel) and not engine_skip.search(rel)


def assemble_sketch(src: Path, ino: Path, gen: Path, out: Path, target: str = "nano33ble",
                    engine: str = "tflm") -> None:
    native = engine == "native"
    generated = GENERATED_NATIVE if native else GENERATED
    missing = [name for name in generated if not (gen / name).is_file()]
    if missing:
        raise CheckError(f"{gen}: {', '.join(missing)} missing; run 'make quantize' first"
                         + (" (the native engine: its output says whether the model is supported)" if native else ""))
    shutil.rmtree(out, ignore_errors=True)
    (out / "src").mkdir(parents=True)
    text = ino.read_text()
    if native:
        if TFLM_INCLUDE not in text:
            raise CheckError(f"{ino}: no '{TFLM_INCLUDE.strip()}' line to leave out of the native build")
        text = text.replace(TFLM_INCLUDE, "")
    (out / (out.name + ".ino")).write_text(text)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix()
        if path.is_file() and path.suffix in (".h", ".cc") and board_source(rel, target, engine):
            dst = out / "src" / (rel[:-3] + ".cpp" if rel.endswith(".cc") else rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
    (out / "src/generated").mkdir()
    for name in generated:
        dst = name[:-3] + ".cpp" if name.endswith(".cc") else name
        shutil.copy2(gen / name, out / "src/generated" / dst)


# ---- compiling -------------------------------------------------------------------------------------------------------
def up_to_date(obj: Path, command: list[str]) -> bool:
    cmd_file, dep_file = obj.with_suffix(".cmd"), obj.with_suffix(".d")
    if not (obj.exists() and cmd_file.exists() and dep_file.exists()) or cmd_file.read_text() != "\n".join(command):
        return False
    deps = dep_file.read_text().replace("\\\n", " ").split(":", 1)[1].split()
    built = obj.stat().st_mtime
    return all(Path(d).exists() and Path(d).stat().st_mtime <= built for d in deps)


def compile_one(command: list[str], obj: Path) -> str | None:
    if up_to_date(obj, command):
        return None
    obj.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return result.stderr.strip() or f"exit {result.returncode}"
    obj.with_suffix(".cmd").write_text("\n".join(command))
    return None


def sources(root: Path, recursive: bool = True) -> list[Path]:
    paths = root.rglob("*") if recursive else root.glob("*")
    return sorted(p for p in paths if p.is_file() and p.suffix in SOURCE_SUFFIXES)


class Build:
    def __init__(self, core: Path, lib: Path, sketch: Path, build: Path, toolchain_bin: str,
                 core_libs: tuple[str, ...] = ()):
        self.core, self.lib, self.sketch, self.build = core.resolve(), lib.resolve(), sketch.resolve(), build.resolve()
        # Libraries of the core the sketch includes (Arduino CLI finds them by their headers): compiled from src/,
        # recursively, and on every compile's include path.
        self.core_libs = [self.core / "libraries" / name for name in core_libs]
        self.props = ar.board_properties(self.core, toolchain_bin)
        self.props["build.path"] = str(self.build)
        self.props["build.project_name"] = PROJECT
        self.core_path = Path(self.props["build.core.path"])
        self.variant_path = Path(self.props["build.variant.path"])
        self.includes = " ".join(f'"-I{d}"' for d in (self.core_path, self.variant_path, self.lib / "src",
                                                      *(lib / "src" for lib in self.core_libs)))

    def command(self, source: Path, obj: Path) -> list[str]:
        recipe = {".c": "recipe.c.o.pattern", ".cpp": "recipe.cpp.o.pattern", ".S": "recipe.S.o.pattern"}
        line = ar.expand(self.props[recipe[source.suffix]], self.props,
                         {"includes": self.includes, "source_file": str(source), "object_file": str(obj)})
        return ar.split_command(line) + ar.extra_flags(source, self.lib, self.build / "sketch")

    def sketch_sources(self) -> list[Path]:
        """Arduino CLI's copy of the sketch in {build.path}/sketch, the .ino turned into .ino.cpp."""
        dst = self.build / "sketch"
        ino = self.sketch / (self.sketch.name + ".ino")
        wanted = {path.relative_to(self.sketch) for path in self.sketch.rglob("*") if path.is_file() and path != ino}
        for rel in sorted(wanted):
            path, target = self.sketch / rel, dst / rel
            if not target.exists() or target.read_bytes() != path.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        # A file dropped from the sketch since the last run must not stay in the build (nor be compiled and linked).
        if (dst / "src").is_dir():
            for stale in [p for p in (dst / "src").rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES | {".h"}
                          and p.relative_to(dst) not in wanted]:
                stale.unlink()
        ino_cpp = dst / (ino.name + ".cpp")
        text = f'#include <Arduino.h>\n#line 1 "{ino}"\n{ino.read_text()}'
        if not ino_cpp.exists() or ino_cpp.read_text() != text:
            ino_cpp.write_text(text)
        return [ino_cpp] + sources(dst / "src")

    def compile_all(self, jobs: int) -> dict[str, list[Path]]:
        lib_src = self.lib / "src"
        # Submission order = compile order: the small groups first, so that a failure there shows up early.
        groups = {
            "sketch": [(s, self.build / "sketch" / (s.relative_to(self.build / "sketch").as_posix() + ".o"))
                       for s in self.sketch_sources()],
            "variant": [(s, self.build / "core" / (s.name + ".o"))
                        for s in sources(self.variant_path, recursive=False)],
            "core": [(s, self.build / "core" / (s.relative_to(self.core_path).as_posix() + ".o"))
                     for s in sources(self.core_path)],
            "library": [(s, self.build / "libraries" / self.lib.name / (s.relative_to(lib_src).as_posix() + ".o"))
                        for s in sources(lib_src)]
            + [(s, self.build / "libraries" / lib.name / (s.relative_to(lib / "src").as_posix() + ".o"))
               for lib in self.core_libs for s in sources(lib / "src")],
        }
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = {pool.submit(compile_one, self.command(s, o), o): s
                       for group in groups.values() for s, o in group}
            errors = [(futures[f], f.result()) for f in futures if f.result() is not None]
        if errors:
            source, message = errors[0]
            raise CheckError(f"{source}: does not compile ({len(errors)} file(s) failed):\n{message[-3000:]}")
        return {name: [o for _, o in group] for name, group in groups.items()}

    def archive_core(self, objects: list[Path]) -> Path:
        archive = self.build / "core" / "core.a"
        if archive.exists() and all(o.stat().st_mtime <= archive.stat().st_mtime for o in objects):
            return archive
        archive.unlink(missing_ok=True)
        for obj in objects:  # Arduino CLI adds the objects one recipe call at a time
            run(ar.expand(self.props["recipe.ar.pattern"], self.props,
                          {"archive_file_path": str(archive), "object_file": str(obj)}))
        return archive

    def link(self, objects: list[Path], archive: Path) -> tuple[Path, list[str]]:
        run(ar.expand(self.props["recipe.hooks.linking.prelink.1.pattern"], self.props))
        mbed_libs = [a for a in ar.split_command(ar.expand(self.props["compiler.mbed"], self.props))
                     if Path(a).name != LIBMBED]
        line = ar.expand(self.props["recipe.c.combine.pattern"], self.props, {
            "object_files": " ".join(f'"{o}"' for o in objects),
            "archive_file": archive.relative_to(self.build).as_posix(),
            "compiler.mbed": " ".join(f'"{a}"' for a in mbed_libs),
        })
        # Without libmbed.a nothing calls main (mbed-os's __wrap_main does, through --wrap,main): keep it as a root
        # of --gc-sections, and let undefined references through as warnings (mangled) so that they can be classified.
        command = ar.split_command(line) + ["-Wl,--undefined=main", "-Wl,--warn-unresolved-symbols",
                                            "-Wl,--no-demangle"]
        result = subprocess.run(command, capture_output=True, text=True)
        elf = self.build / (PROJECT + ".elf")
        if result.returncode != 0:
            # The unresolved mbed-os references are expected warnings: show the lines that made the link fail.
            errors = [ln for ln in result.stderr.splitlines() if ln.strip() and "warning:" not in ln
                      and "in function" not in ln]
            raise CheckError("link failed:\n" + "\n".join(errors)[-3000:])
        undefined = sorted(set(re.findall(r"undefined reference to `([^']+)'", result.stderr)))
        return elf, undefined


def run(line: str) -> None:
    result = subprocess.run(ar.split_command(line), capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckError(f"{line[:200]}: failed:\n{result.stderr[-2000:]}")


# ---- what mbed-os supplies -----------------------------------------------------------------------------------------
def strip_code(text: str) -> str:
    """Header text without comments, string literals and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def file_scope_declarations(text: str) -> tuple[set[str], set[str]]:
    """(function/variable names, namespace/class/struct names) declared at file scope of one header."""
    names, scopes = set(), set()
    depth, top_chunks, start = 0, [], 0
    code = strip_code(text)
    stack: list[bool] = []  # for each open brace: does it stay at file scope (extern "C" block)?
    for m in re.finditer(r"[{};]", code):
        if depth == 0:
            top_chunks.append(code[start:m.start() + 1])
        if m.group() == "{":
            transparent = bool(re.search(r'extern\s*""\s*$', code[start:m.start()])) and depth == 0
            stack.append(transparent)
            if not transparent:
                head = code[start:m.start()]
                scope = re.search(
                    r"\b(?:namespace|class|struct|union|enum(?:\s+class)?)\s+(?:\w+\s+)*?(\w+)\s*(?::[^{]*)?$", head)
                if depth == 0 and scope:
                    scopes.add(scope.group(1))
                depth += 1
        elif m.group() == "}" and stack:
            if not stack.pop():
                depth -= 1
        start = m.end()
    for chunk in top_chunks:
        chunk = chunk.strip()
        if chunk.endswith(";") or chunk.endswith("{"):
            # "type name(args);" or "type (name)(args);" (mbed's HAL guards some names against macros this way)
            call = re.search(r"\b([A-Za-z_]\w*)\)?\s*\((?:[^()]|\([^()]*\))*\)[^();{]*[;{]$", chunk)
            if call and re.search(r"[\w*&>]\s+\**\s*\(?" + re.escape(call.group(1)) + r"\)?\s*\(", chunk):
                names.add(call.group(1))
            var = re.search(r"^(?:extern\s+)?[\w\s*:<>,]+?[\s*]([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?;$", chunk)
            if var and "(" not in chunk and not chunk.startswith(("typedef", "using", "namespace")):
                names.add(var.group(1))
    return names, scopes


def mbed_declarations(core_path: Path) -> tuple[set[str], set[str]]:
    names, scopes = set(), set()
    for header in (core_path / "mbed").rglob("*.h"):
        n, s = file_scope_declarations(header.read_text(errors="replace"))
        names |= n
        scopes |= s
    return names, scopes


def wrapped_functions(ldflags: Path) -> set[str]:
    return set(re.findall(r"-Wl,--wrap,(\w+)", ldflags.read_text()))


def outer_scope(demangled: str) -> str:
    """'mbed::Timer::start()' -> 'mbed'; 'vtable for USBCDC' -> 'USBCDC'; 'setup' -> 'setup'."""
    name = re.sub(r"^(vtable|typeinfo|typeinfo name|VTT|construction vtable) for ", "", demangled)
    return re.split(r"::|\(|<", name, maxsplit=1)[0].strip()


def classify(undefined: list[str], demangled: dict[str, str], names: set[str], scopes: set[str],
             wrapped: set[str]) -> tuple[list[str], list[str]]:
    supplied, missing = [], []
    for sym in undefined:
        pretty = demangled.get(sym, sym)
        if sym.startswith("__wrap_") and sym[len("__wrap_"):] in wrapped:
            ok = True
        elif sym == pretty:  # C linkage
            ok = sym in names
        else:  # C++: a member of a scope declared there, or a function declared at file scope there
            ok = outer_scope(pretty) in scopes or outer_scope(pretty) in names
        (supplied if ok else missing).append(pretty)
    return supplied, missing


def demangle(symbols: list[str], cxxfilt: str) -> dict[str, str]:
    if not symbols:
        return {}
    out = subprocess.run([cxxfilt], input="\n".join(symbols), capture_output=True, text=True, check=True).stdout
    return dict(zip(symbols, out.splitlines()))


# ---- size by origin ---------------------------------------------------------------------------------------------
def origin_of(path: str, build: Path, lib: Path) -> str:
    p = path.replace("\\", "/")
    if "/libraries/" + lib.name + "/third_party/cmsis_nn/" in p:
        return "cmsis_nn"
    if "/libraries/" + lib.name + "/" in p:
        return "tflm"
    if "/libraries/" in p and p.startswith(str(build)):  # a library of the mbed core (the Sense's PDM)
        return "arduino_core"
    if "/sketch/src/generated/model_data" in p or "/sketch/src/generated/native_model" in p:
        return "model"
    if "/sketch/src/native/" in p or "/sketch/src/inference/inference_native" in p:
        return "native_engine"
    if "/sketch/src/generated/selftest_data" in p:
        return "selftest_clips"
    if "/sketch/" in p:
        return "app"
    if "/core/" in p and p.startswith(str(build)) or "/libcc_310" in p:
        return "arduino_core"
    if re.search(r"/lib(c|c_nano|m|g|gcc|stdc\+\+|supc\+\+|nosys)\.a|/crt\w*\.o", p):
        return "libc"
    return "other"  # linker-generated, fill


def size_by_origin(map_file: Path, build: Path, lib: Path) -> dict[str, dict[str, int]]:
    """Sums the input sections of the link map per origin, as flash (program, constants, .data's initial values)
    and static RAM (.data, .bss). Map lines: an output section starts in column 0; an input section is
    " name 0xADDR 0xSIZE file", its name alone on the line before when it is long; fill and symbol lines have no
    file after the size."""
    table: dict[str, dict[str, int]] = {}
    text = map_file.read_text()
    out_section, pending = "", None
    for line in text[text.index("Linker script and memory map"):].splitlines():
        if line and not line[0].isspace():
            out_section, pending = line.split()[0], None
            continue
        full = re.match(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        tail = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if full and not full.group(1).startswith("*"):
            size, path = int(full.group(3), 16), full.group(4)
        elif tail and pending:
            size, path = int(tail.group(2), 16), tail.group(3)
        else:
            name = re.match(r"^ (\.\S+)\s*$", line)
            pending = name.group(1) if name else None
            continue
        pending = None
        if size == 0:
            continue
        row = table.setdefault(origin_of(path.strip(), build, lib), {"flash": 0, "ram": 0})
        if FLASH_SECTIONS.match(out_section):
            row["flash"] += size
        if RAM_SECTIONS.match(out_section):
            row["ram"] += size
    return table


def arduino_size(elf: Path, props: dict[str, str]) -> dict[str, int]:
    """What Arduino CLI prints after a build ("Sketch uses ..."): recipe.size.pattern's output summed with
    platform.txt's recipe.size.regex (flash) and recipe.size.regex.data (RAM)."""
    out = subprocess.run(ar.split_command(ar.expand(props["recipe.size.pattern"], props)), check=True,
                         capture_output=True, text=True).stdout
    return {key: sum(int(m.group(1)) for m in re.finditer(props[regex], out, re.M))
            for key, regex in (("flash", "recipe.size.regex"), ("ram", "recipe.size.regex.data"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sk = sub.add_parser("sketch")
    sk.add_argument("--src", type=Path, required=True)
    sk.add_argument("--ino", type=Path, required=True)
    sk.add_argument("--gen", type=Path, required=True)
    sk.add_argument("--out", type=Path, required=True)
    sk.add_argument("--engine", choices=("tflm", "native"), default="tflm")
    sk.add_argument("--target", choices=sorted(TARGETS), default="nano33ble")
    ck = sub.add_parser("check")
    ck.add_argument("--core", type=Path, required=True)
    ck.add_argument("--lib", type=Path, help="the TFLM Arduino library (none for the native engine)")
    ck.add_argument("--sketch", type=Path, required=True)
    ck.add_argument("--build", type=Path, required=True)
    ck.add_argument("--report", type=Path, required=True)
    ck.add_argument("--jobs", type=int, default=2)
    ck.add_argument("--target", choices=sorted(TARGETS), default="nano33ble")
    args = ap.parse_args()
    try:
        if args.cmd == "sketch":
            assemble_sketch(args.src, args.ino, args.gen, args.out, args.target, args.engine)
        else:
            check(args)
    except CheckError as e:
        sys.exit(f"firmware-board-check: {e}")


def check(args: argparse.Namespace) -> None:
    cxx = shutil.which("arm-none-eabi-g++")
    if cxx is None:
        raise CheckError("arm-none-eabi-g++ not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi "
                         "libstdc++-arm-none-eabi-newlib)")
    args.report.unlink(missing_ok=True)  # a failed check leaves no report behind
    started = time.monotonic()
    if args.lib is None:  # the native engine: no library, an empty folder in its place
        args.lib = args.build / "no-library"
        (args.lib / "src").mkdir(parents=True, exist_ok=True)
    build = Build(args.core, args.lib, args.sketch, args.build, str(Path(cxx).parent),
                  TARGETS[args.target]["core_libs"])
    objects = build.compile_all(args.jobs)
    compiled = time.monotonic() - started
    archive = build.archive_core(objects["core"])
    elf, undefined = build.link(objects["sketch"] + objects["library"] + objects["variant"], archive)
    names, scopes = mbed_declarations(build.core_path)
    wrapped = wrapped_functions(build.variant_path / "ldflags.txt")
    supplied, missing = classify(undefined, demangle(undefined, "arm-none-eabi-c++filt"), names, scopes, wrapped)
    by_origin = size_by_origin(build.build / (PROJECT + ".map"), build.build, build.lib)
    budget = {"flash": int(build.props["upload.maximum_size"]), "ram": int(build.props["upload.maximum_data_size"])}
    totals = {k: sum(row[k] for row in by_origin.values()) for k in ("flash", "ram")}
    report = {
        "board": "arduino:mbed_nano:nano33ble",
        "target": args.target,
        "note": "linked without libmbed.a: mbed-os (RTOS, USB, HAL, retargeting) is not in these figures",
        "budget": budget,
        "total": totals,
        "arduino_cli_size": arduino_size(elf, build.props),
        "by_origin": dict(sorted(by_origin.items(), key=lambda kv: -kv[1]["flash"])),
        "undefined_supplied_by_mbed_os": len(supplied),
        "mbed_os_symbols": sorted(supplied),
        "undefined_not_supplied": missing,
        "objects": {k: len(v) for k, v in objects.items()},
        "compile_seconds": round(compiled, 1),
    }
    print(f"board image (without mbed-os) {elf.name}: by origin, bytes")
    print(f"  {'origin':<16}{'flash':>9}{'ram':>9}")
    for origin, row in report["by_origin"].items():
        print(f"  {origin:<16}{row['flash']:>9}{row['ram']:>9}")
    print(f"  {'total':<16}{totals['flash']:>9}{totals['ram']:>9}   "
          f"budget {budget['flash']} flash, {budget['ram']} RAM")
    print(f"  {len(supplied)} undefined symbols supplied by mbed-os (libmbed.a)")
    if missing:
        raise CheckError(f"{len(missing)} undefined symbol(s) that mbed-os does not supply: {', '.join(missing)}")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
