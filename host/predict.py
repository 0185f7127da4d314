"""Predict one clip: ``python -m host.predict (--file clip.wav | --random) [--backend float|int8|tflm|device]``.

Prints the label and the score of every class. ``device`` runs the clip on a board (``--port``, auto-detected
when empty, ``virtual`` for the virtual device); ``--random`` picks a clip of the test split.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from data.config import PipelineError, run_main
from host.dut import DutError
from host.serial_device import LinkError

BACKENDS = ("float", "int8", "tflm", "device")


def load_input(build_dir: Path, file: Path | None, seed: int | None) -> tuple[np.ndarray, str, str | None]:
    """Raw MFCCs of the clip to predict.

    Returns
    -------
    x_raw : np.ndarray, shape (frames, coeffs), float32
        Not normalized.
    name : str
        The file or the test clip's id.
    truth : str or None
        The true label of a test clip, ``None`` for a file.
    """
    if file is not None:
        from data.features import FeatureParams, extract_file

        if not file.is_file():
            raise PipelineError(f"{file}: no such file")
        return extract_file(file, FeatureParams.from_config()), str(file), None
    from data.datasets import load_split

    split = load_split(build_dir / "features" / "test.npz")
    i = random.Random(seed).randrange(len(split["y"]))
    return split["x"][i], str(split["ids"][i]), str(split["labels"][split["y"][i]])


def predict(x_raw: np.ndarray, backend: str, build_dir: Path, port: str | None = None) -> np.ndarray:
    """Scores of one clip on one backend.

    Parameters
    ----------
    x_raw : np.ndarray, shape (frames, coeffs), float32
        Raw MFCCs.
    backend : str
        One of ``BACKENDS``.
    port : str or None
        ``device`` only: device path, pyserial URL, ``"virtual"``, or ``None`` to auto-detect.

    Returns
    -------
    np.ndarray, shape (num_labels,), float32
        Probabilities (int8 scores dequantized).
    """
    from data.features import apply_norm
    from quantize.model_io import (FLOAT_FILE, INT8_FILE, FloatRunner, Int8Runner, TflmRunner, dequantize_output,
                                   load_meta, model_hash, quantize_input)

    meta = load_meta(build_dir)
    if backend == "float":
        return FloatRunner(build_dir / FLOAT_FILE).scores(apply_norm(x_raw[None], meta["norm"]))[0]
    tflite = build_dir / INT8_FILE
    if not tflite.is_file():
        raise PipelineError(f"{tflite}: missing; run `make train quantize` first")
    x_int8 = quantize_input(x_raw, meta)
    if backend == "int8":
        return dequantize_output(Int8Runner(tflite).scores(x_int8), meta)
    if backend == "tflm":
        return dequantize_output(TflmRunner(tflite).scores(x_int8), meta)
    from host.dut import Dut
    from host.harness import open_port
    from host.virtual_device import VirtualDeviceError

    try:
        with open_port(port, build_dir) as (link, name):
            try:
                result, _ = Dut(link, expected_model=model_hash(tflite.read_bytes())).infer(x_int8.tobytes())
            except (DutError, LinkError) as e:
                raise PipelineError(f"{name}: {e}") from None
    except (VirtualDeviceError, LinkError) as e:
        raise PipelineError(f"{port or 'auto-detected port'}: {e}") from None
    return dequantize_output(np.array(result.scores, np.int8), meta)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m host.predict``."""
    parser = argparse.ArgumentParser(prog="python -m host.predict", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="WAV file to predict")
    source.add_argument("--random", action="store_true", help="a random clip of the test split")
    parser.add_argument("--seed", type=int, help="seed of --random (default: a different clip each time)")
    parser.add_argument("--backend", choices=BACKENDS, default="tflm", help="model to run (default: tflm)")
    parser.add_argument("--port", default="", help="device backend: port, pyserial URL or 'virtual'")
    parser.add_argument("--build", type=Path, default=Path("build"), help="build directory of the model")
    args = parser.parse_args(argv)

    def go() -> None:
        from quantize.model_io import load_meta

        labels = load_meta(args.build)["labels"]
        x_raw, name, truth = load_input(args.build, args.file, args.seed)
        scores = predict(x_raw, args.backend, args.build, args.port or None)
        top = int(np.argmax(scores))
        print(f"{name}: {labels[top]} ({args.backend})" + (f", true label {truth}" if truth else ""))
        for label, score in zip(labels, scores):
            print(f"  {label:>12} {score:.3f}")

    run_main(go)


if __name__ == "__main__":
    main()
