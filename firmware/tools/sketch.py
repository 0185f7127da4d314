"""The Arduino sketch folder of a board image (`make firmware-arduino` compiles it with Arduino CLI, `make
firmware-board-check` offline): the .ino, the image's sources from firmware/sources.mk under src/ (.cc renamed .cpp,
as Arduino CLI compiles only .cpp), every header under src/ and the generated model's files under src/generated/.
Standard library only.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import sources


class SketchError(Exception):
    """One line for the user: a missing input and what to run."""


def missing_generated(gen: Path, engine: str) -> str | None:
    """Why ``gen`` cannot build ``engine`` (one line naming what to run), or None."""
    missing = [name for name in sources.generated_files(engine) if not (gen / name).is_file()]
    if not missing:
        return None
    reason = gen / sources.load()["FW_GEN_NATIVE_UNSUPPORTED"][0]
    if engine == "native" and (gen / "model_settings.h").is_file() and reason.is_file():
        return (f"the native engine cannot run this model ({reason.read_text().strip()}): "
                "build it with ENGINE=tflm")
    return f"{gen}: {', '.join(missing)} missing; run 'make quantize' first (or build with ENGINE=tflm)" \
        if engine == "native" else f"{gen}: {', '.join(missing)} missing; run 'make quantize' first"


def assemble(src: Path, ino: Path, gen: Path, out: Path, target: str, engine: str) -> list[str]:
    """Writes the sketch folder ``out`` (replacing it) and returns its sources, relative to ``out``."""
    why = missing_generated(gen, engine)
    if why:
        raise SketchError(why)
    files = sources.image(target, engine)
    firmware = src.parent
    shutil.rmtree(out, ignore_errors=True)
    (out / "src").mkdir(parents=True)
    shutil.copy2(ino, out / (out.name + ".ino"))
    for header in sorted(src.rglob("*.h")):
        rel = header.relative_to(src)
        if rel.parts[0] != "generated":
            (out / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(header, out / "src" / rel)
    (out / "src/generated").mkdir()
    # Arduino CLI compiles every source of the sketch: the generated headers all, the generated sources of the image.
    for name in sources.generated_files(engine):
        if name.endswith(".h"):
            shutil.copy2(gen / name, out / "src/generated" / name)
    compiled = []
    for rel in files:
        if rel.startswith(sources.GENERATED):
            shutil.copy2(gen / rel[len(sources.GENERATED):], out / "src" / cpp_name(rel))
            compiled.append(f"src/{cpp_name(rel)}")
            continue
        if not rel.startswith("src/"):
            raise SketchError(f"{sources.SOURCES_MK}: {rel} of IMAGE_{target}_{engine} is not under src/")
        if not (firmware / rel).is_file():
            raise SketchError(f"{sources.SOURCES_MK}: {rel} of IMAGE_{target}_{engine} does not exist under {src}")
        dst = out / cpp_name(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(firmware / rel, dst)
        compiled.append(cpp_name(rel))
    return compiled


def cpp_name(rel: str) -> str:
    return rel[:-3] + ".cpp" if rel.endswith(".cc") else rel
