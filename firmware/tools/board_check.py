"""Offline board build check (`make firmware-board-check`): assembles the board's sketch, runs Arduino CLI's recipe for
the Nano 33 BLE on every source of it, links the image without the prebuilt mbed-os library (libmbed.a), fails on any
undefined symbol that mbed-os does not supply, and reports flash and static RAM by origin against the board's budget.

    board_check.py sketch --src firmware/src --ino firmware/nano33ble/nano33ble.ino --gen DIR --out SKETCH_DIR
                          --target nano33ble|nano33ble_sense --engine native|tflm
    board_check.py check --core DIR [--lib DIR] --sketch SKETCH_DIR --build DIR [--cache DIR] --report FILE.json
                         --target ... [--jobs 2]
    board_check.py objects --core DIR [--lib DIR] --build DIR [--cache DIR] --target ... [--jobs 2]

`objects` compiles a target's third-party objects (core, variant, core libraries, TFLM) into the cache alone, without
a sketch or a model: `make third-party-objects`, which `make test` runs before the tests start.

The ideas live in their own modules: sketch.py assembles the sketch folder from firmware/sources.mk (`make
firmware-arduino` uses it too), arduino_build.py runs the compile recipe (arduino_recipe.py reads it from the core),
mbed_symbols.py classifies the undefined symbols, map_report.py attributes the linker map by origin.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arduino_build  # noqa: E402
import map_report  # noqa: E402
import mbed_symbols  # noqa: E402
import sketch  # noqa: E402
import sources  # noqa: E402

# Board targets (make BOARD=...), both FQBN arduino:mbed_nano:nano33ble, and the core's libraries each one's sketch
# includes (Arduino CLI finds them by their headers; the offline check compiles them): the Nano 33 BLE runs the serial
# protocol; the Nano 33 BLE Sense listens to its PDM microphone.
TARGETS = {"nano33ble": (), "nano33ble_sense": ("PDM",)}
FQBN = "arduino:mbed_nano:nano33ble"


class CheckError(Exception):
    """One line for the user: what failed and where."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sk = sub.add_parser("sketch", help="assemble the sketch folder of one board image")
    sk.add_argument("--src", type=Path, required=True)
    sk.add_argument("--ino", type=Path, required=True)
    sk.add_argument("--gen", type=Path, required=True)
    sk.add_argument("--out", type=Path, required=True)
    sk.add_argument("--engine", choices=sources.ENGINES, required=True)
    sk.add_argument("--target", choices=sorted(TARGETS), required=True)
    # What both recipe commands take: the core, the TFLM library, where to compile, the object cache, the target.
    recipe = argparse.ArgumentParser(add_help=False)
    recipe.add_argument("--core", type=Path, required=True)
    recipe.add_argument("--lib", type=Path, help="the TFLM Arduino library (none for the native engine)")
    recipe.add_argument("--build", type=Path, required=True)
    recipe.add_argument("--cache", type=Path, help="the third-party object cache (none: everything in --build)")
    recipe.add_argument("--jobs", type=int, default=2)
    recipe.add_argument("--target", choices=sorted(TARGETS), required=True)
    ck = sub.add_parser("check", parents=[recipe], help="compile, link and size a sketch folder with the core's recipe")
    ck.add_argument("--sketch", type=Path, required=True)
    ck.add_argument("--report", type=Path, required=True)
    sub.add_parser("objects", parents=[recipe], help="compile a target's third-party objects into the cache")
    args = ap.parse_args()
    try:
        if args.cmd == "sketch":
            sketch.assemble(args.src, args.ino, args.gen, args.out, args.target, args.engine)
        elif args.cmd == "objects":
            compile_objects(args)
        else:
            check(args)
    except (CheckError, sketch.SketchError, arduino_build.BuildError, sources.SourcesError) as e:
        sys.exit(f"firmware-board-check: {e}")


def toolchain_bin() -> str:
    cxx = shutil.which("arm-none-eabi-g++")
    if cxx is None:
        raise CheckError("arm-none-eabi-g++ not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi "
                         "libstdc++-arm-none-eabi-newlib)")
    return str(Path(cxx).parent)


def recipe_build(args: argparse.Namespace, sketch_dir: Path | None) -> arduino_build.Build:
    """The compile recipe of the check's or the objects' arguments (no sketch: the third-party objects alone)."""
    return arduino_build.Build(args.core, args.lib, sketch_dir, args.build, toolchain_bin(), TARGETS[args.target],
                               args.cache)


def compile_objects(args: argparse.Namespace) -> None:
    build = recipe_build(args, None)
    _, compiled = build.compile_all(args.jobs)
    print(f"third-party objects of {args.target}{' with TFLM' if args.lib else ''}: "
          f"{sum(compiled.values())} compiled into {args.cache or args.build}")


def check(args: argparse.Namespace) -> None:
    args.report.unlink(missing_ok=True)  # a failed check leaves no report behind
    started = time.monotonic()
    build = recipe_build(args, args.sketch)
    objects, compiled = build.compile_all(args.jobs)
    seconds = time.monotonic() - started
    archive = build.archive_core(objects["core"])
    elf, undefined = build.link(objects["sketch"] + objects["tflm"] + objects["core_libraries"] + objects["variant"],
                                archive)
    names, scopes = mbed_symbols.mbed_declarations(build.core_path)
    wrapped = mbed_symbols.wrapped_functions(build.variant_path / "ldflags.txt")
    supplied, missing = mbed_symbols.classify(undefined, mbed_symbols.demangle(undefined, "arm-none-eabi-c++filt"),
                                              names, scopes, wrapped)
    tflm_lib = build.lib.name if build.lib is not None else ""
    roots = build.third_party_roots
    sizes = map_report.parse_map((build.build / (arduino_build.PROJECT + ".map")).read_text(),
                                 lambda section, source: map_report.origin_of(section, source, tflm_lib, roots))
    by_origin = {o: {"flash": sizes["flash"][o], "ram": sizes["ram"][o]} for o in map_report.ORIGINS}
    budget = {"flash": int(build.props["upload.maximum_size"]), "ram": int(build.props["upload.maximum_data_size"])}
    totals = {k: sum(row[k] for row in by_origin.values()) for k in ("flash", "ram")}
    report = {
        "board": FQBN,
        "target": args.target,
        "engine": "tflm" if build.lib is not None else "native",
        "note": "linked without libmbed.a: mbed-os (RTOS, USB, HAL, retargeting) is not in these figures",
        "budget": budget,
        "total": totals,
        "arduino_cli_size": build.size(elf),
        "by_origin": dict(sorted(by_origin.items(), key=lambda kv: (-kv[1]["flash"], -kv[1]["ram"]))),
        "undefined_supplied_by_mbed_os": len(supplied),
        "mbed_os_symbols": sorted(supplied),
        "undefined_not_supplied": missing,
        "objects": {k: len(v) for k, v in objects.items()},
        "compiled": compiled,
        "compile_seconds": round(seconds, 1),
    }
    print(f"board image {args.target} engine={report['engine']} (without mbed-os) {elf.name}: by origin, bytes")
    print(f"  {'origin':<16}{'flash':>9}{'ram':>9}")
    for origin, row in report["by_origin"].items():
        if row["flash"] or row["ram"]:
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
