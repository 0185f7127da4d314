"""Flash and RAM of a linked firmware image by origin, from its GNU ld map file (``-Wl,-Map=…``).

    python firmware/tools/map_report.py build/firmware/emu/cmsis-Os/firmware.map

Every input section the linker placed is attributed by the object or archive member it came from: TFLM (the
framework and its kernels, including the CMSIS-NN glue files), CMSIS-NN (its C library), the native engine (its
kernels and inference_native.cc), the model (the flatbuffer, or the native engine's generated native_model.cc), the
self-test clips, the tensor arena, app/core (the firmware's own sources, platform and startup) and libc/libgcc
(newlib-nano, libm, libgcc, libstdc++). Flash counts .text/.rodata, the exception index, init arrays and the initial
values of .data; RAM counts .data and .bss (the stack is reserved apart from these and measured at run time).
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ORIGINS = ("tflm", "cmsis_nn", "native_engine", "model", "selftest_clips", "tensor_arena", "app_core", "libc")
FLASH_SECTIONS = {".text", ".ARM.exidx", ".preinit_array", ".init_array", ".fini_array", ".data"}
RAM_SECTIONS = {".data", ".bss"}

_OUTPUT = re.compile(r"^(\.[\w.]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+")
_INPUT = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_INPUT_NAME_ONLY = re.compile(r"^ (\S+)$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def origin_of(section: str, source: str) -> str:
    """The origin of one input section, from its name and the object (``lib.a(member.o)``) it came from."""
    if "g_tensor_arena" in section:
        return "tensor_arena"
    if source.endswith(("model_data.cc.o", "native_model.cc.o")):
        return "model"
    if "/src/native/" in source or "/src/inference/inference_native" in source:
        return "native_engine"
    if source.endswith("selftest_data.cc.o"):
        return "selftest_clips"
    member = re.search(r"libtflm\.a\((.+)\)$", source)
    if member:
        return "cmsis_nn" if member.group(1).endswith(".c.o") else "tflm"
    if re.search(r"/lib(c_nano|c|m|gcc|stdc\+\+_nano|stdc\+\+|supc\+\+_nano|supc\+\+|nosys)\.a\(", source):
        return "libc"
    return "app_core"


def parse_map(text: str) -> dict[str, dict[str, int]]:
    """``{"flash": {origin: bytes}, "ram": {origin: bytes}}`` of one map file (origins with 0 bytes included).

    Merged string sections (``.str1.1``) are listed with their size before merging at overlapping addresses, so
    each input section counts only up to the address where the next one starts.
    """
    report = {"flash": dict.fromkeys(ORIGINS, 0), "ram": dict.fromkeys(ORIGINS, 0)}
    entries: list[tuple[str, int, int, str]] = []  # (output section, address, size, origin)
    body = text.split("Linker script and memory map", 1)[-1]
    output = None
    pending_name = None
    for line in body.splitlines():
        match = _OUTPUT.match(line)
        if match:
            output, pending_name = match.group(1), None
            continue
        if line and not line[0].isspace():
            output, pending_name = None, None  # an output section that holds nothing placed (discarded, debug)
            continue
        if output not in FLASH_SECTIONS | RAM_SECTIONS:
            continue
        match = _INPUT.match(line)
        if match:
            name, address, size, source = match.group(1), match.group(2), match.group(3), match.group(4)
        else:
            named = _INPUT_NAME_ONLY.match(line)
            if named and not named.group(1).startswith("*"):
                pending_name = named.group(1)  # a long section name: address, size and file on the next line
                continue
            cont = _CONTINUATION.match(line)
            if not (cont and pending_name):
                continue
            name, address, size, source = pending_name, cont.group(1), cont.group(2), cont.group(3)
            pending_name = None
        if not name.startswith("*") and int(size, 16):
            entries.append((output, int(address, 16), int(size, 16), origin_of(name, source)))
    entries.sort(key=lambda e: (e[0], e[1]))
    for i, (output, address, size, origin) in enumerate(entries):
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        if nxt is not None and nxt[0] == output:
            size = max(0, min(size, nxt[1] - address))
        if output in FLASH_SECTIONS:
            report["flash"][origin] += size
        if output in RAM_SECTIONS:
            report["ram"][origin] += size
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("map", type=Path, help="linker map file")
    args = parser.parse_args(argv)
    print(json.dumps(parse_map(args.map.read_text()), indent=1))


if __name__ == "__main__":
    main()
