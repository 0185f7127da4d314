"""Packages a pinned TFLM tree (the Cortex-M4F + CMSIS-NN one) as an Arduino library that PlatformIO reads too:
library.properties, library.json and src/ with the tree's sources. Written into build/, never committed.

    python3 tflm_arduino_lib.py --tflm build/third_party/tflm-... --out build/arduino-libs/tflite_micro

Arduino CLI compiles only .c/.cpp/.S files of a library, so TFLM's .cc files become .cpp. Left out: TFLM's generic
Cortex-M port (debug_log.cc, micro_time.cc; the firmware's src/platform/tflm_port_arduino.cc replaces them: the
timer does not compile against the mbed core's CMSIS 5, and the log hook would pull in vsnprintf) and the test-only
sources that TFLM's project generator puts into the tree, and the sources of TFLM's signal library and kissfft (audio
front-end operators this firmware does not register; their headers stay, micro_mutable_op_resolver.h includes
them): about 40 files less for every build to compile. Standard library only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arduino_recipe  # noqa: E402
import third_party  # noqa: E402

NAME = "tflite-micro"
# The content stamp of the library (arduino_build.py keys its object cache on it): the tree's own checksum stamp
# and this script's checksum, as the library is the tree rewritten by this script.
SOURCE_STAMP = ".source"
# Header the sketch includes so that Arduino CLI's library discovery picks this library (it only matches headers
# at a library's src/ root).
HEADER = "tflite_micro.h"
EXCLUDED = {
    "tensorflow/lite/micro/cortex_m_generic/debug_log.cc",
    "tensorflow/lite/micro/cortex_m_generic/micro_time.cc",
    "tensorflow/lite/micro/fake_micro_context.cc",
    "tensorflow/lite/micro/mock_micro_graph.cc",
    "tensorflow/lite/micro/test_helper_custom_ops.cc",
    "tensorflow/lite/micro/test_helpers.cc",
    "tensorflow/lite/micro/kernels/kernel_runner.cc",
}
COPIED_DIRS = ("tensorflow", "signal", "third_party")
UNUSED_SOURCE_DIRS = ("signal/", "third_party/kissfft/")
SOURCE_SUFFIXES = (".cc", ".c")


def excluded(rel: str) -> bool:
    return rel in EXCLUDED or rel.startswith(UNUSED_SOURCE_DIRS) and rel.endswith(SOURCE_SUFFIXES)


def write_library(tflm: Path, out: Path) -> None:
    missing = [d for d in COPIED_DIRS if not (tflm / d).is_dir()]
    if missing:
        sys.exit(f"error: {tflm}: not a TFLM tree (no {', '.join(missing)}/); run 'make third-party'")
    rev = third_party.revision("tflm-cm4")
    version = f"0.0.0-{rev}"
    what = f"TensorFlow Lite Micro {rev} with CMSIS-NN kernels (generated from the pinned tree)"
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src = tmp / "src"
    for top in COPIED_DIRS:
        for path in sorted((tflm / top).rglob("*")):
            rel = path.relative_to(tflm).as_posix()
            if not path.is_file() or excluded(rel):
                continue
            dst = src / (rel[:-3] + ".cpp" if rel.endswith(".cc") else rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
    shutil.copy2(tflm / "LICENSE", tmp / "LICENSE")
    (src / HEADER).write_text(
        "// Marker header: including it makes Arduino CLI link this library. Include TFLM's own headers for its API.\n"
        "#pragma once\n")
    (tmp / "library.properties").write_text(
        f"name={NAME}\nversion={version}\nauthor=The TensorFlow Authors\n"
        "maintainer=firmware/tools/tflm_arduino_lib.py\n"
        f"sentence={what}.\n"
        "paragraph=Needs -std=gnu++17, -DTF_LITE_STATIC_MEMORY -DCMSIS_NN and the third_party include paths "
        "(firmware/tools/arduino_recipe.py adds them).\n"
        "category=Data Processing\nurl=https://github.com/tensorflow/tflite-micro\narchitectures=mbed,mbed_nano\n"
        f"includes={HEADER}\n")
    flags = arduino_recipe.TFLM_DEFINES + [f"-Isrc/{d}" for d in arduino_recipe.TFLM_INCLUDE_DIRS]
    manifest = {
        "name": NAME,
        "version": version,
        "description": what,
        "frameworks": "arduino",
        "platforms": "nordicnrf52",
        # C++17 for TFLM only: the mbed core keeps its gnu++14 (arduino_recipe.py explains why).
        "build": {"flags": [arduino_recipe.CXX17, *flags], "unflags": "-std=gnu++14", "libArchive": False},
    }
    (tmp / "library.json").write_text(json.dumps(manifest, indent=2) + "\n")
    tree_stamp = tflm / third_party.STAMP
    if tree_stamp.is_file():  # a pinned, verified tree (one of your own gets no stamp and is never cached)
        script = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
        (tmp / SOURCE_STAMP).write_text(f"{tree_stamp.read_text().strip()} {script}\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tflm", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    write_library(args.tflm, args.out)


if __name__ == "__main__":
    main()
