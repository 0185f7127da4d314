"""The device's audio front end on the host: the firmware's C++ (``firmware/src/frontend``) built into a shared
library for a model's generated ``model_settings.h`` and called through ctypes, so the host computes exactly the
bytes the device computes from the same audio. Also what the host sends a device: a clip as 16-bit audio.

``python -m host.frontend --gen build/gen --out build/frontend/libfrontend.so`` builds the library (``make
frontend-lib``); :func:`library_for` builds one on demand for a build folder.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from data.config import PipelineError
from data.features import FeatureParams, clip_window, read_audio, to_int16

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "firmware/src/frontend/frontend.cc", ROOT / "firmware/src/frontend/python_binding.cc"]
HEADERS = [ROOT / "firmware/src/frontend/frontend.h"]
# The device's arithmetic exactly: float as written (no fast-math, no FMA contraction), as on the Cortex-M4F.
CXXFLAGS = ["-std=c++17", "-O2", "-shared", "-fPIC", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"]
LIB_NAME = "libfrontend.so"


def build_library(gen_dir: Path, out: Path) -> Path:
    """Compile the front end for the generated headers in ``gen_dir`` (``model_settings.h``) into ``out``.

    Raises
    ------
    PipelineError
        No C++ compiler, or the compilation failed (its first error line).
    """
    cxx = os.environ.get("HOST_CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise PipelineError("no C++ compiler (g++) to build the front end library")
    settings = Path(gen_dir) / "model_settings.h"
    if not settings.is_file():
        raise PipelineError(f"{settings}: missing; run `make quantize` first")
    inc = out.parent / "include"
    (inc / "generated").mkdir(parents=True, exist_ok=True)
    shutil.copy(settings, inc / "generated" / "model_settings.h")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    proc = subprocess.run([cxx, *CXXFLAGS, f"-I{ROOT / 'firmware/src'}", f"-I{inc}", *map(str, SOURCES),
                           "-o", str(tmp)], capture_output=True, text=True)
    if proc.returncode:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:200])
        raise PipelineError(f"building the front end library failed: {first}")
    tmp.replace(out)
    return out


def library_for(build_dir: Path) -> Path:
    """The front end library of the model in ``build_dir``, (re)built when missing or older than its inputs."""
    out = Path(build_dir) / "frontend" / LIB_NAME
    inputs = [Path(build_dir) / "gen" / "model_settings.h", *SOURCES, *HEADERS]
    if not out.exists() or any(f.exists() and f.stat().st_mtime > out.stat().st_mtime for f in inputs):
        build_library(Path(build_dir) / "gen", out)
    return out


class DeviceFrontend:
    """The firmware's front end through ctypes.

    Parameters
    ----------
    lib_path : Path
        A library of :func:`build_library`.
    """

    def __init__(self, lib_path: Path) -> None:
        self.lib = ctypes.CDLL(str(lib_path))
        shape = (ctypes.c_int32 * 4)()
        self.lib.fe_shape(shape)
        self.sample_rate, self.clip_samples, self.frames, self.coeffs = (int(v) for v in shape)
        for name, out_type in (("fe_compute", ctypes.c_int8), ("fe_mfcc", ctypes.c_float)):
            getattr(self.lib, name).argtypes = [ctypes.POINTER(ctypes.c_int16), ctypes.c_size_t,
                                                ctypes.POINTER(out_type), ctypes.c_size_t]
        self.lib.fe_trim.argtypes = [ctypes.POINTER(ctypes.c_int16), ctypes.c_size_t,
                                     ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
        self.lib.fe_stream.argtypes = [ctypes.POINTER(ctypes.c_int16), ctypes.c_uint32,
                                       ctypes.POINTER(ctypes.c_int8), ctypes.c_size_t]

    def check(self, meta: dict[str, Any]) -> None:
        """Refuse a library built for another model's front end."""
        params = FeatureParams(**meta["features"])
        want = (params.sample_rate, params.clip_samples, *params.shape)
        if want != (self.sample_rate, self.clip_samples, self.frames, self.coeffs):
            raise PipelineError(f"front end library is for {self.sample_rate} Hz, {self.clip_samples} samples, "
                                f"{self.frames}x{self.coeffs}, the model needs {want}: rebuild it")

    def _call(self, name: str, audio: np.ndarray, out_type: type) -> np.ndarray:
        audio = np.ascontiguousarray(audio, np.int16)
        if not 1 <= len(audio) <= self.clip_samples:
            raise PipelineError(f"front end takes 1..{self.clip_samples} samples, got {len(audio)}")
        out = np.zeros(self.frames * self.coeffs, out_type)
        ok = getattr(self.lib, name)(audio.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(audio),
                                     out.ctypes.data_as(ctypes.POINTER(np.ctypeslib.as_ctypes_type(out_type))),
                                     len(out))
        if not ok:
            raise PipelineError(f"front end refused {len(audio)} samples")
        return out.reshape(self.frames, self.coeffs)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """int8 model input (frames, coeffs) of 16-bit audio, as the device computes it."""
        return self._call("fe_compute", audio, np.int8)

    def mfcc(self, audio: np.ndarray) -> np.ndarray:
        """The MFCCs before normalization (frames, coeffs), float32."""
        return self._call("fe_mfcc", audio, np.float32)

    def stream(self, window: np.ndarray, end: int) -> tuple[np.ndarray, int]:
        """The listener's features of one window (``clip_samples`` samples ending at sample ``end`` of a recording,
        after :meth:`reset_stream` and the recording's earlier windows) and how many frame spectra it computed.
        :meth:`features` and :meth:`mfcc` forget the stream (the device's clip path shares its memory)."""
        window = np.ascontiguousarray(window, np.int16)
        if len(window) != self.clip_samples:
            raise PipelineError(f"a stream window has {self.clip_samples} samples, got {len(window)}")
        out = np.zeros(self.frames * self.coeffs, np.int8)
        self.lib.fe_stream(window.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), end % 2**32,
                           out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)), len(out))
        return out.reshape(self.frames, self.coeffs), int(self.lib.fe_spectra())

    def is_tone(self) -> bool:
        """Whether the window of the last :meth:`features`, :meth:`mfcc` or :meth:`stream` is a tone or glide, as
        the device decides (``frontend::LastWindowIsTone``; :func:`data.features.is_tone` on the host)."""
        return bool(self.lib.fe_tone())

    def reset_stream(self) -> None:
        """Forget the stream's frames: the next :meth:`stream` window starts a new recording."""
        self.lib.fe_stream_reset()

    def trim(self, audio: np.ndarray) -> tuple[int, int]:
        """``[start, end)`` of the trimmed audio, as the device finds it."""
        audio = np.ascontiguousarray(audio, np.int16)
        start, end = ctypes.c_size_t(), ctypes.c_size_t()
        self.lib.fe_trim(audio.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(audio), start, end)
        return start.value, end.value


def stream_recording(fe: DeviceFrontend, audio: np.ndarray, ends: Iterable[int]) -> tuple[np.ndarray, list[int]]:
    """The listener's features of the windows of a 16-bit recording that end at ``ends`` (ascending), streamed as
    the device's listener computes them, and the frame spectra each window computed.

    Returns
    -------
    features : np.ndarray, shape (windows, frames, coeffs), int8
    spectra : list of int
    """
    fe.reset_stream()
    features, spectra = [], []
    for end in ends:
        x, computed = fe.stream(audio[end - fe.clip_samples:end], end)
        features.append(x)
        spectra.append(computed)
    return np.stack(features), spectra


def wav_audio(path: Path, params: FeatureParams) -> np.ndarray:
    """The 16-bit audio the host sends a device for a WAV file: read (resampled, 16-bit) like the training clips."""
    return to_int16(clip_window(read_audio(Path(path), params.sample_rate), params))


def main(argv: list[str] | None = None) -> None:
    """Command line: build the library."""
    import argparse

    from data.config import run_main

    parser = argparse.ArgumentParser(prog="python -m host.frontend", description=__doc__.splitlines()[0])
    parser.add_argument("--gen", type=Path, default=Path("build/gen"), help="folder of the generated headers")
    parser.add_argument("--out", type=Path, default=Path("build/frontend") / LIB_NAME)
    args = parser.parse_args(argv)
    run_main(lambda: print(f"wrote {build_library(args.gen, args.out)}"))


if __name__ == "__main__":
    sys.exit(main())
