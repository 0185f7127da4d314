"""Writes the files `make quantize` generates, for PROTOCOL.md's reference device configuration instead of a trained
model, with the production writers of quantize/codegen.py, so the application layer builds without the training
pipeline: for the cross-compile size report and the host simulator. The self-test clips' expected scores are those
of the reference fake inference (host/virtual_backends.py's mirror of inference_fake.cc), so the simulator reports
"8/8 identical".

    python firmware/tests/make_fixture.py <out-dir>    (repository root on PYTHONPATH; writes <out-dir>/generated/)
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)
import numpy as np

from host.virtual_backends import REFERENCE_INFO, FakeBackend
from quantize.codegen import write_model_data, write_selftest, write_settings
from quantize.target import TARGET_ARENA_RATIO, firmware_arena_bytes

CLIPS = 8
SEED = 3  # fixed, so the fixture is identical on every run
ARENA_MARGIN = 1.0  # the reference arena is not measured; the fake inference allocates none
# Not a model: the fake inference never reads it (a flatbuffer's root offset and the "TFL3" identifier).
MODEL_BYTES = b"\x1c\x00\x00\x00TFL3"
# The audio front end of the reference configuration: config.toml's default features (16 kHz, 1 s, 100x13 MFCCs),
# fixed here so that the fixture does not follow edits of config.toml; a plain normalization (cepstral mean, std 10).
REFERENCE_FEATURES = {"sample_rate": 16000, "clip_seconds": 1.0, "window_ms": 25.0, "hop_ms": 10.0, "n_fft": 512,
                      "num_mels": 40, "num_mfcc": 13, "fmin": 20.0, "fmax": 3800.0, "trim_db": 25.0}
REFERENCE_NORM = {"per_utterance_mean": True, "mean": [0.0] * 13, "std": [10.0] * 13, "clip": 6.0}
# The probability of the reference min_score (PROTOCOL.md): (0 + 128) / 256.
REFERENCE_MIN_CONFIDENCE = 0.5
SOURCE = "the reference configuration of PROTOCOL.md (firmware/tests/make_fixture.py)"


def fixture_meta() -> dict:
    """The fields of ``model_meta.json`` that the code generator reads, for the reference configuration."""
    info = REFERENCE_INFO
    return {"model_hash": info.model, "labels": list(info.labels),
            "input": {"shape": [1, info.frames, info.coeffs], "scale": info.in_scale, "zero_point": info.in_zp},
            "output": {"scale": info.out_scale, "zero_point": info.out_zp},
            "arena_bytes": info.arena, "arena_margin": ARENA_MARGIN, "arena_target_ratio": TARGET_ARENA_RATIO,
            "tensor_arena_size": firmware_arena_bytes(info.arena, ARENA_MARGIN),
            "features": REFERENCE_FEATURES, "norm": REFERENCE_NORM,
            "answer": {"min_confidence": REFERENCE_MIN_CONFIDENCE, "min_word_score": info.min_score}}


def write_fixture(gen: Path) -> None:
    """Every generated file (model data, settings, self-test clips) into the folder ``gen``."""
    gen.mkdir(parents=True, exist_ok=True)
    info = REFERENCE_INFO
    rng = random.Random(SEED)
    clips = [bytes(rng.randrange(256) for _ in range(info.input_bytes)) for _ in range(CLIPS)]
    backend = FakeBackend()
    inputs = np.array([np.frombuffer(c, np.int8).reshape(info.frames, info.coeffs) for c in clips])
    expected = np.array([backend.infer(c)[0] for c in clips], np.int8)
    labels = np.arange(CLIPS) % info.outputs
    write_model_data(gen, MODEL_BYTES, SOURCE)
    write_settings(gen, fixture_meta(), SOURCE)
    write_selftest(gen, inputs, expected, labels, SOURCE)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python firmware/tests/make_fixture.py <out-dir>")
    write_fixture(Path(sys.argv[1]) / "generated")
