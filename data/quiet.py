"""Quiet normal output: the native libraries' log lines (TensorFlow, LiteRT, the TFLite converter) are hidden unless
``V`` is set in the environment (``make … V=1``)."""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import tempfile
from typing import Iterator

# What the entry points that run models import up front, so that their native log lines are captured once here.
TF_MODULES = ("tensorflow", "tf_keras", "ai_edge_litert.interpreter", "tflite_micro.python.tflite_micro.runtime")


def verbose() -> bool:
    """True when the user asked for everything (``V=1``)."""
    return bool(os.environ.get("V"))


@contextlib.contextmanager
def captured_fd(fd: int = 2) -> Iterator[list[str]]:
    """Capture what C/C++ code writes to file descriptor ``fd``; the text is in the yielded list afterwards."""
    out: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(fd)
        os.dup2(tmp.fileno(), fd)
        try:
            yield out
        finally:
            ctypes.CDLL(None).fflush(None)  # C stdio may buffer; flush it into the file first
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode(errors="replace"))


@contextlib.contextmanager
def hushed() -> Iterator[None]:
    """Hide native output to stdout and stderr in the block unless ``V`` is set; shown after all when it fails."""
    if verbose():
        yield
        return
    failed = True
    out: list[str] = []
    err: list[str] = []
    try:
        with captured_fd(1) as out, captured_fd(2) as err:
            yield
        failed = False
    except KeyboardInterrupt:
        failed = False  # the user stopped it: the libraries' start-up lines are no clue to anything
        raise
    finally:
        if failed:  # the hidden text is the user's only clue
            sys.stderr.write("".join(out + err))


def import_quietly() -> None:
    """Import ``TF_MODULES`` with their start-up log lines hidden (see :func:`hushed`)."""
    with hushed():
        for name in TF_MODULES:
            importlib.import_module(name)
