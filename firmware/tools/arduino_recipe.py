"""Arduino CLI's build recipe for the Nano 33 BLE, read from the Arduino mbed core's own platform.txt and boards.txt,
and the per-file compile flags this firmware adds to it. Shared by `make firmware-board-check` (board_check.py),
which runs the recipe offline, and `make firmware-arduino`, which hands the same flags to Arduino CLI through the
`cc` wrapper below. Standard library only.

Per-file standards: the mbed core's sources keep the core's own `-std=gnu++14` (cxxflags.txt); only the firmware's
sources and TFLM get `-std=gnu++17` and TFLM's defines and include paths (`tflm_flags`). Arduino CLI has no
per-library or per-sketch flags, so `make firmware-arduino` prefixes the compile recipes with this script's `cc`
command (see `arduino_cli_properties`), which adds those flags to the files under the sketch and the TFLM library
and runs everything else unchanged.

    arduino_recipe.py props --core DIR [--lib DIR]    print Arduino CLI's --build-property arguments (one a line)
    arduino_recipe.py cc [--lib DIR] --sketch DIR -- <compiler command...>   compile one file (the wrapper)

--lib is the TFLM Arduino library of a TFLM build; the native engine's build has none.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

BOARD = "nano33ble"
VARIANT = "ARDUINO_NANO33BLE"
# Arduino CLI's {runtime.ide.version} and {build.arch} for arduino:mbed_nano.
IDE_VERSION = "10607"
BUILD_ARCH = "MBED_NANO"
# The toolchain property boards.txt names (Arduino's arm-none-eabi-gcc 7-2017q4); offline it is the installed one.
TOOLCHAIN_PROPERTY = "runtime.tools.arm-none-eabi-gcc-7-2017q4.path"
CXX17 = "-std=gnu++17"
# TFLM's own compile flags for a CMSIS-NN tree (its Makefile and ext_libs/cmsis_nn.inc): defines and include paths
# relative to the library's src/. TF_LITE_STATIC_MEMORY changes TfLiteTensor's layout, so every file that includes
# a TFLM header needs it, not only the library's. CMSIS-NN needs no CMSIS-Core header (it includes <arm_acle.h>), so
# the tree's CMSIS 6 stays off the include path and cannot clash with the mbed core's CMSIS 5.
TFLM_DEFINES = ["-DTF_LITE_STATIC_MEMORY", "-DCMSIS_NN"]
TFLM_INCLUDE_DIRS = ["third_party/flatbuffers/include", "third_party/gemmlowp", "third_party/ruy",
                     "third_party/kissfft", "third_party/cmsis_nn", "third_party/cmsis_nn/Include"]
C_SUFFIXES = {".c"}
CXX_SUFFIXES = {".cpp", ".cc"}


def read_properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def board_properties(core: Path, toolchain_bin: str = "") -> dict[str, str]:
    """platform.txt overlaid with boards.txt's `nano33ble.*` entries and the runtime properties Arduino CLI sets."""
    props = read_properties(core / "platform.txt")
    prefix = BOARD + "."
    for key, value in read_properties(core / "boards.txt").items():
        if key.startswith(prefix) and not key.startswith(prefix + "menu."):
            props[key[len(prefix):]] = value
    props.update({
        "runtime.platform.path": str(core),
        "runtime.ide.version": IDE_VERSION,
        "build.arch": BUILD_ARCH,
        "build.core.path": str(core / "cores" / props["build.core"]),
        "build.variant.path": str(core / "variants" / props["build.variant"]),
        TOOLCHAIN_PROPERTY: toolchain_bin.removesuffix("/bin"),
    })
    return props


def expand(template: str, props: dict[str, str], extra: dict[str, str] | None = None) -> str:
    """Substitutes {name} until nothing known is left (Arduino properties refer to each other)."""
    values = {**props, **(extra or {})}
    for _ in range(16):
        new = re.sub(r"\{([^{}]+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
        if new == template:
            return new
        template = new
    raise ValueError(f"property expansion does not terminate: {template[:80]}")


def split_command(command: str) -> list[str]:
    """A recipe line as argv; `@file` arguments are kept (gcc reads them itself)."""
    return shlex.split(command)


def tflm_flags(lib: Path, suffix: str) -> list[str]:
    flags = [CXX17] if suffix in CXX_SUFFIXES else []
    return flags + TFLM_DEFINES + [f"-I{lib / 'src' / d}" for d in TFLM_INCLUDE_DIRS]


def extra_flags(source: Path, lib: Path | None, sketch: Path) -> list[str]:
    """What this firmware adds to the core's recipe for one file: TFLM's flags for the library's and the sketch's
    sources (plus the sketch's src/ as include root), nothing for the mbed core, its variant and .S files. Without a
    TFLM library (the native engine) the sketch gets C++17 and its include root only."""
    suffix = source.suffix
    if suffix not in C_SUFFIXES | CXX_SUFFIXES:
        return []
    resolved = source.resolve()
    if lib is not None and resolved.is_relative_to(lib.resolve()):
        return tflm_flags(lib, suffix)
    if resolved.is_relative_to(sketch.resolve()):
        own = tflm_flags(lib, suffix) if lib is not None else [CXX17] if suffix in CXX_SUFFIXES else []
        return own + [f"-I{sketch / 'src'}"]
    return []


def arduino_cli_properties(core: Path, lib: Path | None) -> list[str]:
    """--build-property values for Arduino CLI: the core's C and C++ compile recipes behind the `cc` wrapper."""
    props = read_properties(core / "platform.txt")
    lib_arg = f'--lib "{lib.resolve()}" ' if lib is not None else ""
    wrapper = f'"{sys.executable}" "{Path(__file__).resolve()}" cc {lib_arg}--sketch "{{build.path}}/sketch" --'
    return [f"{key}={wrapper} {props[key]}" for key in ("recipe.c.o.pattern", "recipe.cpp.o.pattern")]


def source_of(argv: list[str]) -> Path | None:
    """The file a compile command compiles: the C/C++ argument that is not the -o target."""
    for i, arg in enumerate(argv):
        if Path(arg).suffix in C_SUFFIXES | CXX_SUFFIXES and (i == 0 or argv[i - 1] != "-o"):
            return Path(arg)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    props = sub.add_parser("props")
    props.add_argument("--core", type=Path, required=True)
    props.add_argument("--lib", type=Path, help="the TFLM Arduino library (none for the native engine)")
    cc = sub.add_parser("cc")
    cc.add_argument("--lib", type=Path)
    cc.add_argument("--sketch", type=Path, required=True)
    cc.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.cmd == "props":
        print("\n".join(arduino_cli_properties(args.core, args.lib)))
        return
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    source = source_of(argv)
    # Flags go right after the compiler, before the recipe's own; the later -std of ours wins only if it comes last.
    added = extra_flags(source, args.lib, args.sketch) if source else []
    os.execvp(argv[0], argv + added)


if __name__ == "__main__":
    main()
