"""The built models' files: the model metadata (``build/model_meta.json``, the contract every stage after training
reads), the one device input function (raw MFCCs -> the int8 input tensor), and the interpreters that run the
float (Keras), int8 (LiteRT) and int8-on-TFLM models. :mod:`host.runtime` puts them behind one interface.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import INT8_FILE, META_FILE
from data.config import PipelineError
from data.features import apply_norm
from data.quiet import captured_fd

# What every model_meta.json holds (written by quantize.build.build_int8); a file without one of them is refused.
META_KEYS = ("labels", "features", "norm", "input", "output", "ops", "dataset", "model_hash", "model_bytes",
             "arena_bytes", "tensor_arena_size", "selftest_clips", "answer")
# Name of the metadata entry inside the .tflite that carries model_meta.json.
TFLITE_METADATA_NAME = "tinyml_pipeline_meta"


def model_hash(tflite_bytes: bytes) -> str:
    """First 8 hex digits of the SHA-256 of a .tflite file: the id the device reports in its handshake."""
    return hashlib.sha256(tflite_bytes).hexdigest()[:8]


def load_meta(build_dir: Path | str = "build") -> dict[str, Any]:
    """Read ``model_meta.json`` (labels, features, norm, input/output quantization, hash, arena) and check that it
    describes the ``model_int8.tflite`` next to it (same hash).

    Raises
    ------
    PipelineError
        One line: missing or unreadable files, missing keys, or a model that is not the one described.
    """
    path = Path(build_dir) / META_FILE
    tflite = Path(build_dir) / INT8_FILE
    for f in (path, tflite):
        if not f.is_file():
            raise PipelineError(f"{f}: missing; run `make train quantize` first")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PipelineError(f"{path}: unreadable ({e})") from None
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise PipelineError(f"{path}: lacks {missing}; run `make quantize` again")
    actual = model_hash(tflite.read_bytes())
    if actual != meta["model_hash"]:
        raise PipelineError(f"{tflite}: model {actual} is not the model {meta['model_hash']} that {path} describes; "
                            "run `make quantize` again")
    return meta


def device_input(x_raw: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """The device input contract, in one place: raw MFCCs -> the int8 input tensor. Normalizes with the model's
    stored statistics (:func:`data.features.apply_norm`: per-utterance mean when the model was trained with it,
    mean/std, clipping), then quantizes with the input tensor's scale and zero point. The firmware's generated
    header carries the same constants.

    Parameters
    ----------
    x_raw : np.ndarray, shape (..., num_frames, num_mfcc)
    meta : dict
        From :func:`load_meta`.

    Returns
    -------
    np.ndarray, same shape, int8
    """
    q = meta["input"]
    x = apply_norm(x_raw, meta["norm"])
    return np.clip(np.round(x / q["scale"]) + q["zero_point"], -128, 127).astype(np.int8)


def dequantize_output(scores: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """int8 output scores -> probabilities (float32)."""
    q = meta["output"]
    return ((scores.astype(np.float32) - q["zero_point"]) * q["scale"]).astype(np.float32)


class FloatRunner:
    """The float Keras model. ``scores(x_norm)`` takes normalized features, shape (n, frames, coeffs)."""

    def __init__(self, h5_path: Path) -> None:
        import tf_keras as keras

        if not Path(h5_path).exists():
            raise PipelineError(f"{h5_path}: missing; run `make train` first")
        self.model = keras.models.load_model(str(h5_path), compile=False)

    def scores(self, x_norm: np.ndarray) -> np.ndarray:
        """Softmax scores, shape (n, num_labels), float32."""
        return self.model.predict(x_norm, verbose=0, batch_size=256).astype(np.float32)


class Int8Runner:
    """The int8 .tflite on the LiteRT interpreter (``ai-edge-litert``, else ``tflite_runtime``)."""

    def __init__(self, tflite_path: Path) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:  # older installs only have the predecessor package
            from tflite_runtime.interpreter import Interpreter, OpResolverType
        # No default delegate: XNNPACK would replace the reference kernels whose numbers we report.
        self.interp = Interpreter(model_path=str(tflite_path),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]["index"]
        self.out = self.interp.get_output_details()[0]["index"]

    def scores(self, x_int8: np.ndarray) -> np.ndarray:
        """int8 scores of one clip: (frames, coeffs) int8 -> (num_labels,) int8."""
        self.interp.reset_all_variables()  # LSTM state must not leak from the previous clip
        self.interp.set_tensor(self.inp, x_int8[None])
        self.interp.invoke()
        return self.interp.get_tensor(self.out)[0].copy()


class TflmRunner:
    """The int8 .tflite on TFLM's own kernels (PyPI ``tflite-micro``): what the board computes."""

    def __init__(self, tflite_path: Path) -> None:
        from tflite_micro.python.tflite_micro import runtime

        self.interp = runtime.Interpreter.from_file(str(tflite_path))

    def scores(self, x_int8: np.ndarray) -> np.ndarray:
        """int8 scores of one clip: (frames, coeffs) int8 -> (num_labels,) int8."""
        self.interp.reset()  # LSTM state persists between invokes otherwise
        self.interp.set_input(x_int8[None], 0)
        self.interp.invoke()
        return self.interp.get_output(0)[0].copy()


def measure_arena(tflite_path: Path, sample: np.ndarray) -> int:
    """Tensor-arena bytes TFLM's recording allocator reports after one inference of ``sample`` (frames, coeffs)."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(tflite_path))
    interp.set_input(sample[None], 0)
    interp.invoke()
    with captured_fd(2) as printed:
        interp.print_allocations()
    m = re.search(r"Arena allocation total (\d+) bytes", printed[0])
    if not m:
        raise PipelineError(f"{tflite_path}: TFLM did not report its arena allocation")
    return int(m.group(1))


def tflite_ops(tflite_bytes: bytes) -> list[str]:
    """Builtin op names used by a .tflite model, sorted, without duplicates."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    names = set()
    for sub in model.subgraphs:
        for op in sub.operators:
            names.add(flatbuffer_utils.opcode_to_name(model, op.opcodeIndex))
    return sorted(names)


def embed_metadata(tflite_bytes: bytes, meta: dict[str, Any]) -> bytes:
    """Return the .tflite with ``meta`` stored as JSON in its metadata table (``TFLITE_METADATA_NAME``) and without
    the strings no interpreter needs (tensor and subgraph names, signatures: TF's ``strip_strings``), which are
    about a third of a small LSTM model's bytes."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    flatbuffer_utils.strip_strings(model)
    buf = schema.BufferT()
    buf.data = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = TFLITE_METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_metadata(tflite_bytes: bytes) -> dict[str, Any]:
    """The JSON stored by :func:`embed_metadata`."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    for entry in model.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == TFLITE_METADATA_NAME:
            return json.loads(bytes(model.buffers[entry.buffer].data).decode())
    raise PipelineError(f"no {TFLITE_METADATA_NAME} metadata in the model")


def pick_selftest(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` self-test clips (firmware and virtual device alike): one per label first, in label order.

    Parameters
    ----------
    y : np.ndarray, shape (n_clips,)
        Label indices of the test split.
    """
    picked = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)][:n]
    rest = [i for i in range(len(y)) if i not in picked]
    return np.array(picked + rest[:n - len(picked)])
