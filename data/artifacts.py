"""Writing stage outputs so that a failed run loses nothing: everything is written into a staging folder and moved
into place only when the stage succeeds."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from data.config import PipelineError

# The files stages hand to each other inside the build folder (the training stage's outputs and the model contract).
FLOAT_FILE = "model_float.h5"
NORM_FILE = "norm.json"
TRAIN_FILE = "train.json"
INT8_FILE = "model_int8.tflite"
META_FILE = "model_meta.json"


def features_digest(features_dir: Path) -> str:
    """SHA-256 of ``dataset.json``: which feature set a model was trained on (it lists every split's clips)."""
    path = features_dir / "dataset.json"
    if not path.is_file():
        raise PipelineError(f"{path}: missing; run `make features` (or `make train`) first")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def staged_outputs(dest: Path) -> Iterator[Path]:
    """A fresh staging folder inside ``dest``; when the block succeeds every entry written into it replaces the
    same-named file or folder of ``dest``, when it fails (any exception) the staging folder is deleted and ``dest``
    is left exactly as it was.

    Parameters
    ----------
    dest : Path
        The folder the outputs belong in (created if missing).

    Yields
    ------
    Path
        The staging folder: write the outputs there under their final names.
    """
    dest.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=dest))
    try:
        yield stage
        for entry in sorted(stage.iterdir()):
            target = dest / entry.name
            if target.is_dir() and not target.is_symlink():
                # A folder cannot be replaced in one rename: move the old one aside first, delete it after.
                old = stage / f".old-{entry.name}"
                target.rename(old)
                entry.rename(target)
            else:
                os.replace(entry, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file in the same folder: readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_file(path: Path, suffix: str) -> Path:
    """Validate an output path before any work is done: it must end in ``suffix``, must not be a folder, and its
    folder must be creatable and writable.

    Returns
    -------
    Path
        ``path`` itself.
    """
    if path.suffix != suffix:
        raise PipelineError(f"{path}: the output must be a {suffix} file")
    if path.is_dir():
        raise PipelineError(f"{path}: is a folder, not a {suffix} file")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PipelineError(f"{path}: cannot create its folder ({e.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise PipelineError(f"{path}: its folder {parent} is not writable")
    try:  # /proc and friends pass os.access but refuse new files
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise PipelineError(f"{path}: cannot write in {parent} ({e.strerror})") from None
    return path
