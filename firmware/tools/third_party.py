"""Unpack (or, on a networked machine, generate) a pinned third-party source tree into build/, verified by checksum.

    python3 firmware/tools/third_party.py NAME --dest build/third_party [--shared ../shared/third_party]
    python3 firmware/tools/third_party.py vars       the pins as make assignments (firmware/third_party.mk reads them)

NAME is a key of ``firmware/third_party/pins.json``. The tree lands in ``DEST/<dir>`` only when its content checksum
matches the pin; a failed or interrupted run leaves nothing half-unpacked. Standard library only (runs before the venv).
pins.json is the only place that names a revision: make, PlatformIO's extra script and the tools read it from here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PINS = Path(__file__).resolve().parent.parent / "third_party" / "pins.json"
# Marker written last into a verified tree: make depends on it.
STAMP = ".verified"
CHUNK = 1 << 20


class PinError(Exception):
    """One line for the user: what is wrong and what to do."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def tree_sha256(root: Path) -> str:
    """sha256 of the text `sha256sum` prints for every file under ``root`` (sorted relative paths, ``./`` prefix),
    i.e. ``find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum``; the stamp file is left out."""
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != STAMP)
    listing = "".join(f"{sha256_file(root / p)}  ./{p}\n" for p in paths)
    return hashlib.sha256(listing.encode()).hexdigest()


def unpack_archive(archive: Path, pin: dict, work: Path) -> Path:
    digest = sha256_file(archive)
    if digest != pin["archive_sha256"]:
        raise PinError(f"{archive}: checksum {digest[:12]}… differs from the pinned {pin['archive_sha256'][:12]}…")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    return work / pin["dir"]


def generate_upstream(pin: dict, work: Path) -> Path:
    """TFLM's own project generator at the pinned revision (needs git, network, numpy and pillow)."""
    up = pin.get("upstream")
    if up is None:
        raise PinError(f"no archive and no upstream recipe for {pin['dir']}")
    src = work / "tflite-micro"
    try:
        subprocess.run(["git", "init", "-q", str(src)], check=True)
        subprocess.run(["git", "-C", str(src), "fetch", "-q", "--depth", "1", up["repo"], up["commit"]], check=True)
        subprocess.run(["git", "-C", str(src), "checkout", "-q", "FETCH_HEAD"], check=True)
        subprocess.run([sys.executable, "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py",
                        f"--makefile_options={up['makefile_options']} TARGET_TOOLCHAIN_ROOT=/usr/bin/",
                        str(work / pin["dir"])], cwd=src, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise PinError(f"generating {pin['dir']} from {up['repo']}@{up['commit'][:8]} failed ({e})") from None
    return work / pin["dir"]


def load_pins() -> dict[str, dict]:
    return {k: v for k, v in json.loads(PINS.read_text()).items() if not k.startswith("_")}


def pin_of(name: str) -> dict:
    pins = load_pins()
    if name not in pins:
        raise PinError(f"unknown tree {name!r}; pinned: {', '.join(pins)}")
    return pins[name]


def revision(name: str) -> str:
    """A pinned tree's short revision: its upstream commit's first 8 digits, else its version."""
    pin = pin_of(name)
    return pin["upstream"]["commit"][:8] if "upstream" in pin else pin["version"]


def make_vars() -> list[str]:
    """``<NAME>_DIR``, ``<NAME>_TREE`` (content checksum) and ``<NAME>_REV`` of every pin, NAME upper-cased with
    ``_`` for ``-`` (tflm-cm4 -> TFLM_CM4_DIR): one word each, so make can $(eval) them."""
    lines = []
    for name, pin in load_pins().items():
        var = name.upper().replace("-", "_")
        lines += [f"{var}_DIR={pin['dir']}", f"{var}_TREE={pin['tree_sha256']}", f"{var}_REV={revision(name)}"]
    return lines


def ensure(name: str, dest: Path, shared: Path) -> Path:
    pin = pin_of(name)
    target = dest / pin["dir"]
    if (target / STAMP).exists():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    archive = shared / pin["archive"]
    with tempfile.TemporaryDirectory(dir=dest, prefix=f".{name}-") as tmp:
        tree = unpack_archive(archive, pin, Path(tmp)) if archive.exists() else generate_upstream(pin, Path(tmp))
        digest = tree_sha256(tree)
        if digest != pin["tree_sha256"]:
            raise PinError(f"{pin['dir']}: tree checksum {digest[:12]}… differs from the pinned "
                           f"{pin['tree_sha256'][:12]}…")
        (tree / STAMP).write_text(pin["tree_sha256"] + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tree.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a pinned tree, or `vars`")
    parser.add_argument("--dest", type=Path)
    parser.add_argument("--shared", type=Path, default=Path("../shared/third_party"))
    args = parser.parse_args()
    try:
        if args.name == "vars":
            print("\n".join(make_vars()))
            return
        if args.dest is None:
            parser.error("--dest is required")
        print(ensure(args.name, args.dest, args.shared))
    except PinError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
