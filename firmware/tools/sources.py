"""The firmware's source lists (firmware/sources.mk) for Python: the offline board check and PlatformIO's extra script
read the same file that make includes. Standard library only.

    python3 firmware/tools/sources.py IMAGE_nano33ble_native      print one list, a path a line
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

SOURCES_MK = Path(__file__).resolve().parent.parent / "sources.mk"
ENGINES = ("native", "tflm")
TARGETS = ("nano33ble", "nano33ble_sense", "emu", "emu_listen", "host", "host_listen")
# A file of the generated model: `generated/<name>` in a list.
GENERATED = "generated/"
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:=\s*(.*)$")
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


class SourcesError(Exception):
    """sources.mk uses more than the syntax this parser reads, or a name is unknown (one line)."""


def parse(text: str, origin: str = str(SOURCES_MK)) -> dict[str, list[str]]:
    """Every list of ``text`` (sources.mk syntax), references expanded."""
    lists: dict[str, list[str]] = {}
    logical, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        if not logical:
            start = number
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        if logical.strip():
            match = _ASSIGN.match(logical.strip())
            if match is None:
                raise SourcesError(f"{origin}:{start}: not a `NAME := words` line")
            words = []
            for word in match.group(2).split():
                ref = _REF.fullmatch(word)
                if ref is None and "$" in word:
                    raise SourcesError(f"{origin}:{start}: {word!r}: only whole-word $(NAME) references")
                if ref is not None and ref.group(1) not in lists:
                    raise SourcesError(f"{origin}:{start}: $({ref.group(1)}) is not defined above")
                words += lists[ref.group(1)] if ref else [word]
            lists[match.group(1)] = words
        logical = ""
    return lists


def load(path: Path = SOURCES_MK) -> dict[str, list[str]]:
    return parse(path.read_text(), str(path))


def image(target: str, engine: str, path: Path = SOURCES_MK) -> list[str]:
    """The sources of one image (IMAGE_<target>_<engine>), relative to firmware/ or ``generated/<file>``."""
    if target not in TARGETS or engine not in ENGINES:
        raise SourcesError(f"no image {target!r} with engine {engine!r}: targets {', '.join(TARGETS)}, "
                           f"engines {', '.join(ENGINES)}")
    return load(path)[f"IMAGE_{target}_{engine}"]


def generated_files(engine: str, path: Path = SOURCES_MK) -> list[str]:
    """The generated model's files a build with ``engine`` copies (FW_GEN_FILES_<engine>)."""
    return load(path)[f"FW_GEN_FILES_{engine}"]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    try:
        lists = load()
        if sys.argv[1] not in lists:
            raise SourcesError(f"{SOURCES_MK}: no list {sys.argv[1]}")
        print("\n".join(lists[sys.argv[1]]))
    except SourcesError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
