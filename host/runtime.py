"""The one runtime: audio -> the model's input -> scores on any backend, every parameter from the model's metadata.

Evaluation, prediction, the harness, the virtual device and the bench all go through :class:`Runtime`. After
training, ``config.toml`` no longer decides anything here: features, normalization, labels and quantization come
from ``model_meta.json``; when ``config.toml`` has been edited since, the runtime says so in one line and uses the
model's values.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from data.artifacts import FLOAT_FILE, INT8_FILE
from data.config import PipelineError, load_config
from data.features import FeatureParams, apply_norm, extract_file
from host.dut import Dut, DutError
from host.ports import open_port
from host.serial_device import LinkError
from quantize.model_io import dequantize_output, device_input, load_meta

BACKENDS = ("float", "int8", "tflm", "native", "device")
# The backends that compute int8 scores (the others: float probabilities).
INT8_BACKENDS = ("int8", "tflm", "native", "device")


class Backend(Protocol):
    """One way of running the model: ``scores`` of raw MFCC clips."""

    def scores(self, x_raw: np.ndarray) -> np.ndarray:
        """Scores of ``x_raw`` (n, frames, coeffs): (n, labels), float32 probabilities or int8 scores."""


def config_drift(meta: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """``section.key`` of every front-end value of ``config`` that differs from the model's (features and
    normalization settings; fitted statistics are the model's own)."""
    drift = [f"features.{k}" for k, v in config["features"].items() if meta["features"].get(k) != v]
    norm = config["normalization"]
    drift += [f"normalization.{k}" for k in ("per_utterance_mean", "clip") if meta["norm"].get(k) != norm[k]]
    return drift


@dataclass
class Runtime:
    """A built model and everything needed to feed it.

    Attributes
    ----------
    build : Path
        The build folder (``model_meta.json``, ``model_int8.tflite``, ``model_float.h5``).
    meta : dict
        The checked metadata (:func:`quantize.model_io.load_meta`).
    params : FeatureParams
        The front end the model was trained with.
    """

    build: Path
    meta: dict[str, Any]
    params: FeatureParams
    _backends: dict[str, Backend] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, build: Path, warn: bool = True) -> "Runtime":
        """Load and check the model of ``build``; with ``warn``, name the ``config.toml`` values it overrides."""
        meta = load_meta(build)
        if warn:
            try:
                drift = config_drift(meta, load_config())
            except PipelineError:
                drift = []  # a broken config.toml concerns training, not the built model
            if drift:
                print(f"note: config.toml differs from the model in {', '.join(drift)}; using the model's values",
                      file=sys.stderr)
        return cls(Path(build), meta, FeatureParams(**meta["features"]))

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    def test_split(self) -> dict[str, np.ndarray]:
        """The test split of the build's features (:func:`data.datasets.load_split`), refused in one line when its
        labels are not the model's (features rebuilt after the model)."""
        from data.datasets import load_split

        path = self.build / "features" / "test.npz"
        split = load_split(path)
        labels = [str(s) for s in split["labels"]]
        if labels != self.labels:
            raise PipelineError(f"{path.parent}: labels {labels} are not the model's {self.labels}; run `make train "
                                "quantize` again")
        return split

    def features(self, wav: Path) -> np.ndarray:
        """Raw MFCCs of one WAV file with the model's front end: (frames, coeffs) float32."""
        return extract_file(Path(wav), self.params)

    def normalized(self, x_raw: np.ndarray) -> np.ndarray:
        """The float model's input: raw MFCCs normalized with the model's statistics (same shape, float32)."""
        return apply_norm(x_raw, self.meta["norm"])

    @property
    def has_native(self) -> bool:
        """Whether the quantize stage compiled this model for the native engine (``gen/native_model.cc``)."""
        return (self.build / "gen" / "native_model.cc").is_file()

    def device_input(self, x_raw: np.ndarray) -> np.ndarray:
        """The int8 input of the int8 backends and the device (:func:`quantize.model_io.device_input`)."""
        return device_input(x_raw, self.meta)

    def backend(self, name: str, port: str | None = None) -> Backend:
        """The backend ``name`` (one of ``BACKENDS``), created once per runtime. ``port`` is the device's (path,
        pyserial URL, ``virtual``, or ``None`` to find the board); close device backends with :meth:`close`."""
        if name not in BACKENDS:
            raise PipelineError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
        if name not in self._backends:
            self._backends[name] = DeviceBackend(self, port) if name == "device" else HOST_BACKENDS[name](self)
        return self._backends[name]

    def scores(self, name: str, x_raw: np.ndarray, port: str | None = None) -> np.ndarray:
        """Scores of raw MFCC clips (n, frames, coeffs) on backend ``name``: (n, labels), float32 for ``float``,
        int8 for the others."""
        return self.backend(name, port).scores(x_raw)

    def probabilities(self, name: str, scores: np.ndarray) -> np.ndarray:
        """Scores of backend ``name`` as probabilities (int8 scores dequantized), float32."""
        return dequantize_output(scores, self.meta) if name in INT8_BACKENDS else scores.astype(np.float32)

    def close(self) -> None:
        """Release the device link, if one is open."""
        for backend in self._backends.values():
            if isinstance(backend, DeviceBackend):
                backend.close()
        self._backends.clear()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FloatBackend:
    """The float Keras model on normalized features."""

    def __init__(self, rt: Runtime) -> None:
        from quantize.model_io import FloatRunner

        self.rt = rt
        self.runner = FloatRunner(rt.build / FLOAT_FILE)

    def scores(self, x_raw: np.ndarray) -> np.ndarray:
        return self.runner.scores(self.rt.normalized(x_raw))


class _PerClip:
    """An int8 interpreter run clip by clip (state reset before each) with a progress bar for long runs."""

    name = ""

    def __init__(self, rt: Runtime, runner: Any) -> None:
        self.rt = rt
        self.runner = runner

    def scores(self, x_raw: np.ndarray) -> np.ndarray:
        from tqdm import tqdm

        x = self.rt.device_input(x_raw)
        return np.stack([self.runner.scores(clip) for clip in
                         tqdm(x, desc=f"{self.name} inference", unit="clip", disable=len(x) < 50,
                              mininterval=1.0, leave=False)])


class Int8Backend(_PerClip):
    """The int8 .tflite on the LiteRT interpreter."""

    name = "int8"

    def __init__(self, rt: Runtime) -> None:
        from quantize.model_io import Int8Runner

        super().__init__(rt, Int8Runner(rt.build / INT8_FILE))


class TflmBackend(_PerClip):
    """The int8 .tflite on TFLM's own kernels (PyPI ``tflite-micro``): what the board computes."""

    name = "tflm"

    def __init__(self, rt: Runtime) -> None:
        from quantize.model_io import TflmRunner

        super().__init__(rt, TflmRunner(rt.build / INT8_FILE))


class NativeBackend:
    """The native engine (the model compiled to C, ``firmware/src/native``) as a shared library on the host."""

    name = "native"

    def __init__(self, rt: Runtime) -> None:
        from quantize.native_runner import NativeRunner

        self.rt = rt
        self.runner = NativeRunner(rt.build)

    def scores(self, x_raw: np.ndarray) -> np.ndarray:
        return self.runner.batch(self.rt.device_input(x_raw))


class DeviceBackend:
    """A board (or the virtual device) over the serial protocol; refuses a device that runs another model."""

    def __init__(self, rt: Runtime, port: str | None) -> None:
        self.rt = rt
        self._stack = contextlib.ExitStack()
        self._errors = (DutError, LinkError)
        try:
            link, self.name = self._stack.enter_context(open_port(port, rt.build))
            self.dut = Dut(link, expected_model=rt.meta["model_hash"])
            self.info = self.dut.handshake()
        except (DutError, LinkError) as e:
            self._stack.close()
            raise PipelineError(f"{port or 'auto-detected port'}: {e}") from None
        if list(self.info.labels) != rt.labels:
            self._stack.close()
            raise PipelineError(f"{self.name}: device labels {list(self.info.labels)} differ from {rt.labels}")

    def scores(self, x_raw: np.ndarray) -> np.ndarray:
        out = []
        for clip in self.rt.device_input(x_raw):
            try:
                result, _ = self.dut.infer(clip.tobytes())
            except self._errors as e:
                raise PipelineError(f"{self.name}: {e}") from None
            out.append(result.scores)
        return np.array(out, np.int8)

    def close(self) -> None:
        self._stack.close()


# The backends that run on this machine, by name (``device`` needs a port: :class:`DeviceBackend`).
HOST_BACKENDS = {"float": FloatBackend, "int8": Int8Backend, "tflm": TflmBackend, "native": NativeBackend}
