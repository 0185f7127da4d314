"""What `arduino-cli compile` does with a sketch folder for the Nano 33 BLE, offline (`make firmware-board-check`): the
.ino becomes <name>.ino.cpp behind `#include <Arduino.h>`; the sketch, the TFLM library (TFLM builds only), the core's
libraries the sketch includes (the Sense's PDM), the variant and the core (cores/arduino, recursively) are compiled
with platform.txt's recipe.{c,cpp,S}.o.pattern plus arduino_recipe.extra_flags; core objects are archived with
recipe.ar.pattern; the linker script goes through the prelink hook; recipe.c.combine.pattern links (without
libmbed.a: board_check.py says why). Standard library only.

Include folders: the core and its variant compile with those two only (as Arduino CLI compiles them); each library
with those and its own src/ (no library here includes another); the sketch with all of them. So a third-party object
does not depend on the board, the engine or the model: the Sense check reuses the plain check's TFLM objects.

Caching: the sketch's objects stay in the build folder (recompiled when the command or a dependency of the -MMD file
changes). The pinned third-party objects (the core, its variant and libraries, TFLM) go to a cache folder outside the
clone (make's TP_CACHE) keyed on the pinned tree's checksum (its .verified / .source stamp) and the compiler's
version; an object there is valid when its command, with the folders written as {core} {lib} {cache} {object}, is
the one recorded next to it. Objects are written under a temporary name and renamed, so two builds sharing the cache
never see half an object. A tree without a stamp (TFLM_CM4=/ARDUINO_MBED= pointing at your own) is not cached.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import arduino_recipe as ar

LIBMBED = "libmbed.a"
PROJECT = "nano33ble.ino"
SOURCE_SUFFIXES = {".c", ".cpp", ".S"}
COMPILED = "compiled"
# Stamps of a pinned tree's content: third_party.py's checksum-verified trees, tflm_arduino_lib.py's library.
STAMPS = (".verified", ".source")


class BuildError(Exception):
    """One line for the user: what failed and where (plus the compiler's or linker's last lines)."""


def sources(root: Path, recursive: bool = True) -> list[Path]:
    paths = root.rglob("*") if recursive else root.glob("*")
    return sorted(p for p in paths if p.is_file() and p.suffix in SOURCE_SUFFIXES)


def tree_stamp(tree: Path) -> str | None:
    """The content checksum a pinned tree carries, None for a tree of one's own."""
    for name in STAMPS:
        if (tree / name).is_file():
            return (tree / name).read_text().strip()
    return None


def compiler_version(cxx: str) -> str:
    return subprocess.run([cxx, "-dumpfullversion"], capture_output=True, text=True, check=True).stdout.strip()


def cache_folder(cache: Path | None, tree: Path, kind: str, cxx_version: str) -> Path | None:
    """``<cache>/<kind>-<key>`` for a pinned tree, None when there is no cache or the tree has no stamp."""
    stamp = tree_stamp(tree)
    if cache is None or stamp is None:
        return None
    key = hashlib.sha256(f"{stamp}\n{cxx_version}\n".encode()).hexdigest()[:16]
    return cache / f"{kind}-{key}"


class Unit:
    """One compile: the source, its object, and the folders its recorded command is written relative to (None: a
    sketch object in the build folder, checked against its -MMD dependencies instead)."""

    def __init__(self, source: Path, obj: Path, includes: str, cached: dict[str, Path] | None):
        self.source, self.obj, self.includes, self.cached = source, obj, includes, cached


def normalized(command: list[str], obj: Path, folders: dict[str, Path]) -> str:
    text = "\n".join(command).replace(str(obj), "{object}")
    for name, folder in folders.items():
        text = text.replace(str(folder), "{" + name + "}")
    return text


def up_to_date(unit: Unit, command: list[str]) -> bool:
    obj = unit.obj
    cmd_file = obj.with_suffix(".cmd")
    if not (obj.exists() and cmd_file.exists()):
        return False
    if unit.cached is not None:
        return cmd_file.read_text() == normalized(command, obj, unit.cached)
    dep_file = obj.with_suffix(".d")
    if not dep_file.exists() or cmd_file.read_text() != "\n".join(command):
        return False
    deps = dep_file.read_text().replace("\\\n", " ").split(":", 1)[1].split()
    built = obj.stat().st_mtime
    return all(Path(d).exists() and Path(d).stat().st_mtime <= built for d in deps)


def run(line: str) -> None:
    result = subprocess.run(ar.split_command(line), capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"{line[:200]}: failed:\n{result.stderr[-2000:]}")


class Build:
    """The recipe of one sketch: ``lib`` is the TFLM Arduino library (None for the native engine), ``core_libs`` the
    core's libraries the sketch includes, ``cache`` the third-party object cache (None: everything in ``build``)."""

    def __init__(self, core: Path, lib: Path | None, sketch: Path | None, build: Path, toolchain_bin: str,
                 core_libs: tuple[str, ...] = (), cache: Path | None = None):
        self.core, self.build = core.resolve(), build.resolve()
        self.sketch = sketch.resolve() if sketch is not None else None
        self.lib = lib.resolve() if lib is not None else None
        self.core_libs = [self.core / "libraries" / name for name in core_libs]
        self.props = ar.board_properties(self.core, toolchain_bin)
        self.props["build.path"] = str(self.build)
        self.props["build.project_name"] = PROJECT
        self.core_path = Path(self.props["build.core.path"])
        self.variant_path = Path(self.props["build.variant.path"])
        version = compiler_version(str(Path(toolchain_bin) / "arm-none-eabi-g++"))
        cache = cache.resolve() if cache is not None else None
        self.core_cache = cache_folder(cache, self.core, "arduino-core", version)
        self.lib_cache = cache_folder(cache, self.lib, "tflm-arduino", version) if self.lib is not None else None
        self.libraries = ([self.lib] if self.lib is not None else []) + self.core_libs

    def include_flags(self, *folders: Path) -> str:
        return " ".join(f'"-I{d}"' for d in (self.core_path, self.variant_path, *folders))

    @property
    def sketch_includes(self) -> str:
        return self.include_flags(*(lib / "src" for lib in self.libraries))

    def command(self, source: Path, obj: Path, includes: str) -> list[str]:
        recipe = {".c": "recipe.c.o.pattern", ".cpp": "recipe.cpp.o.pattern", ".S": "recipe.S.o.pattern"}
        line = ar.expand(self.props[recipe[source.suffix]], self.props,
                         {"includes": includes, "source_file": str(source), "object_file": str(obj)})
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

    def units(self) -> dict[str, list[Unit]]:
        """Every compile, by group; the small groups first, so that a failure there shows up early. Without a
        sketch, the third-party groups alone."""
        core_root = self.core_cache or self.build
        core_folders = {"core": self.core, "cache": core_root, "build": self.build}
        core_includes = self.include_flags()
        groups = {
            "sketch": [] if self.sketch is None else [
                Unit(s, self.build / "sketch" / (s.relative_to(self.build / "sketch").as_posix() + ".o"),
                     self.sketch_includes, None) for s in self.sketch_sources()],
            "variant": [Unit(s, core_root / "core" / (s.name + ".o"), core_includes,
                             core_folders if self.core_cache else None)
                        for s in sources(self.variant_path, recursive=False)],
            "core": [Unit(s, core_root / "core" / (s.relative_to(self.core_path).as_posix() + ".o"), core_includes,
                          core_folders if self.core_cache else None) for s in sources(self.core_path)],
            "tflm": [],
            "core_libraries": [],
        }
        for lib in self.libraries:
            tflm = lib == self.lib
            cache = self.lib_cache if tflm else self.core_cache
            root = cache or self.build
            folders = {"core": self.core, "lib": lib, "cache": root, "build": self.build} if cache else None
            groups["tflm" if tflm else "core_libraries"] += [
                Unit(s, root / "libraries" / lib.name / (s.relative_to(lib / "src").as_posix() + ".o"),
                     self.include_flags(lib / "src"), folders) for s in sources(lib / "src")]
        return groups

    def compile_one(self, unit: Unit) -> str | None:
        """Compiles ``unit`` unless it is up to date: None, "compiled", or the compiler's error output."""
        command = self.command(unit.source, unit.obj, unit.includes)
        if up_to_date(unit, command):
            return None
        unit.obj.parent.mkdir(parents=True, exist_ok=True)
        if unit.cached is None:
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                return result.stderr.strip() or f"exit {result.returncode}"
            unit.obj.with_suffix(".cmd").write_text("\n".join(command))
            return COMPILED
        # Into the shared cache under a name of this process, then renamed: another build never reads half of it.
        tmp = unit.obj.with_name(f"{unit.obj.name}.{os.getpid()}.tmp.o")
        result = subprocess.run([str(tmp) if a == str(unit.obj) else a for a in command], capture_output=True,
                                text=True)
        tmp.with_suffix(".d").unlink(missing_ok=True)
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            return result.stderr.strip() or f"exit {result.returncode}"
        os.replace(tmp, unit.obj)
        record = unit.obj.with_name(f"{unit.obj.with_suffix('.cmd').name}.{os.getpid()}.tmp")
        record.write_text(normalized(command, unit.obj, unit.cached))
        os.replace(record, unit.obj.with_suffix(".cmd"))
        return COMPILED

    def compile_all(self, jobs: int) -> tuple[dict[str, list[Path]], dict[str, int]]:
        """The objects of every group, and how many of each were compiled (not up to date) by this run."""
        groups = self.units()
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = {pool.submit(self.compile_one, unit): (name, unit.source)
                       for name, group in groups.items() for unit in group}
            results = [(futures[f], f.result()) for f in futures]
        errors = [(source, out) for (_, source), out in results if out not in (None, COMPILED)]
        if errors:
            source, message = errors[0]
            raise BuildError(f"{source}: does not compile ({len(errors)} file(s) failed):\n{message[-3000:]}")
        compiled = {name: sum(1 for (group, _), out in results if group == name and out == COMPILED)
                    for name in groups}
        return {name: [unit.obj for unit in group] for name, group in groups.items()}, compiled

    @property
    def third_party_roots(self) -> list[str]:
        """Folders holding the Arduino core's objects and archive (for the map's origins)."""
        root = self.core_cache or self.build
        return [str(root / "core"), str(root / "libraries"), str(self.build / "core")]

    def archive_core(self, objects: list[Path]) -> Path:
        archive = self.build / "core" / "core.a"
        archive.parent.mkdir(parents=True, exist_ok=True)
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
            raise BuildError("link failed:\n" + "\n".join(errors)[-3000:])
        undefined = sorted(set(re.findall(r"undefined reference to `([^']+)'", result.stderr)))
        return elf, undefined

    def size(self, elf: Path) -> dict[str, int]:
        """What Arduino CLI prints after a build ("Sketch uses ..."): recipe.size.pattern's output summed with
        platform.txt's recipe.size.regex (flash) and recipe.size.regex.data (RAM)."""
        out = subprocess.run(ar.split_command(ar.expand(self.props["recipe.size.pattern"], self.props)), check=True,
                             capture_output=True, text=True).stdout
        return {key: sum(int(m.group(1)) for m in re.finditer(self.props[regex], out, re.M))
                for key, regex in (("flash", "recipe.size.regex"), ("ram", "recipe.size.regex.data"))}
