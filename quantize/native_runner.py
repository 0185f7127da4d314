"""The native engine on the host: ``gen/native_model.cc`` and ``firmware/src/native`` built as a shared library
(``<build>/native/libnative_model.so``, rebuilt when a source is newer) and called through ctypes. The ``native``
backend of :mod:`host.runtime`; the same C++ the firmware runs (portable path of the kernels).
"""
from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import numpy as np

from data.config import REPO_ROOT, PipelineError

NATIVE_SRC = REPO_ROOT / "firmware" / "src" / "native"
LIB_SOURCES = ("kernels.cc", "native_api.cc")
CXX = os.environ.get("HOST_CXX", "g++")
CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror")


def library_path(build: Path) -> Path:
    return Path(build) / "native" / "libnative_model.so"


def build_library(build: Path) -> Path:
    """Compile the generated model of ``build`` with the kernels into a shared library (when out of date)."""
    gen = Path(build) / "gen"
    model_cc = gen / "native_model.cc"
    if not model_cc.is_file():
        raise PipelineError(f"{model_cc}: missing; the quantize stage generates it for models the native engine "
                            "supports (its output says why not)")
    lib = library_path(build)
    sources = [model_cc, gen / "native_model.h", *(NATIVE_SRC / s for s in LIB_SOURCES), NATIVE_SRC / "kernels.h",
               NATIVE_SRC / "lstm.h"]
    if lib.is_file() and lib.stat().st_mtime >= max(s.stat().st_mtime for s in sources):
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    # The generated files include "generated/native_model.h": give them that folder name.
    inc = lib.parent / "include"
    (inc / "generated").mkdir(parents=True, exist_ok=True)
    (inc / "generated" / "native_model.h").write_bytes((gen / "native_model.h").read_bytes())
    tmp = lib.with_suffix(".so.tmp")
    cmd = [CXX, *CXXFLAGS, f"-I{REPO_ROOT / 'firmware' / 'src'}", f"-I{inc}", f"-I{inc / 'generated'}",
           str(model_cc), *(str(NATIVE_SRC / s) for s in LIB_SOURCES), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PipelineError(f"{model_cc}: the native engine did not compile: {proc.stderr.strip()[:2000]}")
    tmp.replace(lib)
    return lib


class NativeRunner:
    """int8 scores of the native engine: ``scores(x_int8)`` for one clip, ``batch`` for many."""

    def __init__(self, build: Path) -> None:
        self.lib = ctypes.CDLL(str(build_library(build)))
        self.lib.native_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        self.in_bytes = self.lib.native_input_bytes()
        self.out_bytes = self.lib.native_output_bytes()

    def batch(self, x_int8: np.ndarray) -> np.ndarray:
        """(n, ...) int8 clips -> (n, labels) int8 scores."""
        x = np.ascontiguousarray(x_int8, np.int8).reshape(len(x_int8), -1)
        if x.shape[1] != self.in_bytes:
            raise PipelineError(f"native engine: clips of {x.shape[1]} values, the model takes {self.in_bytes}")
        out = np.empty((len(x), self.out_bytes), np.int8)
        self.lib.native_invoke(x.ctypes.data, out.ctypes.data, len(x))
        return out

    def scores(self, x_int8: np.ndarray) -> np.ndarray:
        """int8 scores of one clip: (frames, coeffs) int8 -> (num_labels,) int8."""
        return self.batch(x_int8[None])[0]
