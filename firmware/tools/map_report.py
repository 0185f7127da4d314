"""Flash and RAM of a linked firmware image by origin, from its GNU ld map file (``-Wl,-Map=…``): the one map parser
of the emulated images (experiments/emulated.py) and the offline board check (board_check.py).

    python firmware/tools/map_report.py build/firmware/emu/cmsis-Os/firmware.map

Every input section the linker placed is attributed by the object or archive member it came from (``origin_of``):
TFLM (the framework and its kernels, including the CMSIS-NN glue files), CMSIS-NN (its C library), the native engine
(its kernels and inference_native.cc), the model (the flatbuffer, or the native engine's generated native_model.cc),
the self-test clips, the tensor arena, the Arduino core (the board's mbed core, its variant and libraries), libc
(newlib, libm, libgcc, libstdc++), the application (the firmware's own sources, platform and startup) and other
(linker-generated). Flash counts program, constants, exception tables, init arrays and the initial values of .data;
RAM counts .data, .bss and the board's uninitialized sections (the stack and heap are reserved apart from these).
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ORIGINS = ("tflm", "cmsis_nn", "native_engine", "model", "selftest_clips", "tensor_arena", "arduino_core", "libc",
           "app", "other")
# Output sections (the emulated image's linker script and the mbed core's) in flash / in static RAM.
FLASH_SECTIONS = re.compile(r"^\.(text|rodata|ARM\.(exidx|extab)|preinit_array|init_array|fini_array|data|sdh_\w+)$")
RAM_SECTIONS = re.compile(r"^\.(data|bss|uninitialized|noinit)$")

_INPUT = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_INPUT_NAME_ONLY = re.compile(r"^ (\S+)$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_LIBC = re.compile(r"/lib(c_nano|c|m|g|gcc|stdc\+\+_nano|stdc\+\+|supc\+\+_nano|supc\+\+|nosys)\.a\b|/crt\w*\.o$")


@dataclass(frozen=True)
class Placed:
    """One input section the linker placed: its output section, name, address, size and object file."""

    output: str
    name: str
    address: int
    size: int
    source: str


def placed_sections(text: str) -> list[Placed]:
    """The input sections of a map's "Linker script and memory map" part, by output section and address.

    Map lines: an output section starts in column 0 (its address on the next line when the name is long); an input
    section is `` name 0xADDR 0xSIZE file``, its name alone on the line before when it is long; fill and symbol lines
    have no file after the size. Merged string sections (``.str1.1``) are listed with their size before merging at
    overlapping addresses, so each input section counts only up to the address where the next one starts.
    """
    entries: list[Placed] = []
    body = text.split("Linker script and memory map", 1)[-1]
    output, pending = "", None
    for line in body.splitlines():
        if line and not line[0].isspace():
            output, pending = line.split()[0], None
            continue
        match = _INPUT.match(line)
        if match:
            name, address, size, source = match.groups()
        else:
            named = _INPUT_NAME_ONLY.match(line)
            if named and not named.group(1).startswith("*"):
                pending = named.group(1)  # a long section name: address, size and file on the next line
                continue
            cont = _CONTINUATION.match(line)
            if not (cont and pending):
                continue
            name, (address, size, source) = pending, cont.groups()
        pending = None
        if not name.startswith("*") and int(size, 16):
            entries.append(Placed(output, name, int(address, 16), int(size, 16), source.strip()))
    entries.sort(key=lambda e: (e.output, e.address))
    clamped = []
    for i, e in enumerate(entries):
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        size = max(0, min(e.size, nxt.address - e.address)) if nxt is not None and nxt.output == e.output else e.size
        clamped.append(Placed(e.output, e.name, e.address, size, e.source))
    return clamped


def origin_of(section: str, source: str, tflm_lib: str = "", third_party: Sequence[str] = ()) -> str:
    """The origin of one input section from its name and object (``lib.a(member.o)`` or a path). ``tflm_lib``: the
    board's TFLM Arduino library folder name; ``third_party``: folders of the board's Arduino core objects."""
    p = source.replace("\\", "/")
    if "g_tensor_arena" in section:
        return "tensor_arena"
    if re.search(r"/(model_data|native_model)\.(cc|cpp)\.o$", p):
        return "model"
    if re.search(r"/selftest_data\.(cc|cpp)\.o$", p):
        return "selftest_clips"
    if "/src/native/" in p or "/inference/inference_native." in p:
        return "native_engine"
    member = re.search(r"libtflm\.a\((.+)\)$", p)
    if member:
        return "cmsis_nn" if member.group(1).endswith(".c.o") else "tflm"
    if tflm_lib and f"/libraries/{tflm_lib}/" in p:
        return "cmsis_nn" if f"/libraries/{tflm_lib}/third_party/cmsis_nn/" in p else "tflm"
    if _LIBC.search(p):
        return "libc"
    if any(p.startswith(root.rstrip("/") + "/") for root in third_party) or "/libcc_310" in p:
        return "arduino_core"
    return "app" if p.endswith((".o", ".o)")) else "other"


def parse_map(text: str, origin: Callable[[str, str], str] = origin_of) -> dict[str, dict[str, int]]:
    """``{"flash": {origin: bytes}, "ram": {origin: bytes}}`` of one map file (every origin, 0 included);
    ``origin(section, source)`` attributes an input section."""
    report = {"flash": dict.fromkeys(ORIGINS, 0), "ram": dict.fromkeys(ORIGINS, 0)}
    for e in placed_sections(text):
        where = origin(e.name, e.source)
        if FLASH_SECTIONS.match(e.output):
            report["flash"][where] += e.size
        if RAM_SECTIONS.match(e.output):
            report["ram"][where] += e.size
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("map", type=Path, help="linker map file")
    args = parser.parse_args(argv)
    print(json.dumps(parse_map(args.map.read_text()), indent=1))


if __name__ == "__main__":
    main()
