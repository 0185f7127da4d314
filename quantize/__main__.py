"""Entry point of the quantize stage: full-int8 conversion, op check, arena measurement, three-way evaluation,
C arrays for the firmware.

    python -m quantize [--smoke]

Outputs in ``build/``: ``model_int8.tflite`` (with metadata), ``model_meta.json``, ``metrics.json``, ``report.md``
(+ confusion PNGs), ``gen/model_data.{h,cc}``, ``gen/model_settings.h``, ``gen/selftest_data.{h,cc}``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from data.config import REPO_ROOT, PipelineError, load_config, run_main
from data.datasets import load_split
from data.features import apply_norm
from data.synth import is_synthetic
from quantize.codegen import write_model_data, write_selftest, write_settings
from quantize.evaluate import compute_metrics, run_backends, write_report
from quantize.model_io import (FLOAT_FILE, INT8_FILE, META_FILE, dequantize_output, embed_metadata,
                               measure_arena, model_hash, pick_selftest, quantize_input, tflite_ops)
from quantize.target import TARGET_ARENA_RATIO, check_pinned_tflm, firmware_arena_bytes
from train.collapse import check_collapse
from train.model import build_model

# The firmware's TFLM file registers its ops as `op_resolver.AddXxx();` lines; we read them from there.
FIRMWARE_OPS_GLOB = "firmware/**/inference_tflm.cc"


def firmware_ops(root: Path = REPO_ROOT) -> list[str]:
    """Builtin op names the firmware registers (parsed from its TFLM inference file)."""
    files = sorted(root.glob(FIRMWARE_OPS_GLOB))
    if not files:
        raise PipelineError(f"no {FIRMWARE_OPS_GLOB} in {root}: cannot check the model's ops against the firmware")
    return sorted({resolver_op_name(m) for f in files for m in re.findall(r"\.Add(\w+)\(\)", f.read_text())})


def resolver_op_name(method: str) -> str:
    """The builtin op name of a resolver method (without ``Add``): an underscore wherever a lower-case letter meets
    a capital or a digit (UnidirectionalSequenceLSTM -> UNIDIRECTIONAL_SEQUENCE_LSTM, ReverseV2 -> REVERSE_V2,
    Conv2D -> CONV_2D)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z0-9])", "_", method).upper()


def check_ops(model_ops: list[str], registered: list[str]) -> None:
    """Fail when the converted model and the firmware's op resolver disagree."""
    missing = sorted(set(model_ops) - set(registered))
    unused = sorted(set(registered) - set(model_ops))
    if missing or unused:
        raise PipelineError(f"op mismatch between the int8 model and the firmware's resolver: model needs "
                            f"{missing or 'nothing more'} not registered; firmware registers unused {unused or 'none'}"
                            f" (model ops: {model_ops})")


def convert(trained: Any, arch: str, config: dict, x_calib: np.ndarray) -> bytes:
    """Full-int8 conversion (int8 input and output) of a trained Keras model of architecture ``arch``, calibrated
    on normalized training clips ``x_calib`` (n, frames, coeffs)."""
    import tensorflow as tf

    # Static batch of 1: TFLM needs fixed shapes.
    model = build_model(x_calib.shape[1:], trained.output_shape[-1], config["model"], arch, batch_size=1)
    model.set_weights(trained.get_weights())

    def representative() -> object:
        for x in x_calib:
            yield [x[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    try:
        return conv.convert()
    except Exception as e:  # the converter raises many types; one line is what the user needs
        raise PipelineError(f"int8 conversion failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")


def calibration_set(train: dict, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` raw training clips (n, frames, coeffs): the same number from every class and, within a class,
    from real and from synthetic speakers when both are present (representative of what the device will hear)."""
    rng = np.random.default_rng(seed)
    real = np.array([not is_synthetic(str(s)) for s in train["sources"]])
    groups = [np.flatnonzero((train["y"] == c) & (real == r)) for c in np.unique(train["y"]) for r in (False, True)]
    groups = [g for g in groups if len(g)]
    per = max(1, n // len(groups))
    idx = np.concatenate([rng.permutation(g)[:per] for g in groups])
    return train["x"][np.sort(idx)]


def build_int8(out: Path, trained: Any, arch: str, norm: dict, train: dict, features: dict, dataset: str,
               config: dict) -> tuple[bytes, dict]:
    """Convert, check full-int8, embed metadata, measure the TFLM arena; writes ``INT8_FILE`` and ``META_FILE``.

    Parameters
    ----------
    out : Path
        Folder for the .tflite and its metadata.
    trained : tf_keras.Model
    arch : str
        Architecture name (``train.model.ARCHITECTURES``).
    norm : dict
        From :func:`data.features.fit_norm`.
    train : dict
        Training split (raw ``x`` (n, frames, coeffs), ``y``, ``sources``, ``labels``): the calibration source.
    features : dict
        ``FeatureParams.to_dict()``.
    dataset : str
        Recorded in the metadata.

    Returns
    -------
    tflite : bytes
        The model with metadata.
    meta : dict
        What ``model_meta.json`` holds.
    """
    qcfg = config["quantize"]
    calib = apply_norm(calibration_set(train, int(qcfg["calibration_clips"]), int(config["train"]["seed"])), norm)
    tflite = convert(trained, arch, config, calib)
    ops = tflite_ops(tflite)
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_content=tflite)
    inp, outp = details.get_input_details()[0], details.get_output_details()[0]
    if inp["dtype"] != np.int8 or outp["dtype"] != np.int8:
        raise PipelineError(f"converted model is not full int8 (input {inp['dtype']}, output {outp['dtype']})")
    meta = {"labels": [str(s) for s in train["labels"]], "features": features, "norm": norm,
            "input": {"scale": float(inp["quantization"][0]), "zero_point": int(inp["quantization"][1]),
                      "shape": [int(v) for v in inp["shape"]]},
            "output": {"scale": float(outp["quantization"][0]), "zero_point": int(outp["quantization"][1])},
            "ops": ops, "dataset": dataset}
    # The .tflite carries everything but its own hash and arena (which depend on the final bytes).
    tflite = embed_metadata(tflite, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / INT8_FILE).write_bytes(tflite)
    arena = measure_arena(out / INT8_FILE, quantize_input(train["x"][:1], meta)[0])
    margin = float(qcfg["arena_margin"])
    meta |= {"model_hash": model_hash(tflite), "model_bytes": len(tflite), "arena_bytes": arena,
             "arena_margin": margin, "arena_target_ratio": TARGET_ARENA_RATIO,
             "tensor_arena_size": firmware_arena_bytes(arena, margin)}
    (out / META_FILE).write_text(json.dumps(meta, indent=1))
    return tflite, meta


def main(args: argparse.Namespace) -> dict:
    config = load_config()
    qcfg = config["quantize"]
    build = args.build
    train = load_split(build / "features" / "train.npz")
    test = load_split(build / "features" / "test.npz")
    if not (build / FLOAT_FILE).exists() or not (build / "norm.json").exists():
        raise PipelineError(f"{build / FLOAT_FILE}: missing; run `make train` first")
    norm = json.loads((build / "norm.json").read_text())
    train_summary = json.loads((build / "train.json").read_text())
    registered = firmware_ops()
    import tf_keras as keras

    trained = keras.models.load_model(str(build / FLOAT_FILE), compile=False)
    arch = train_summary["architecture"]
    feature_summary = json.loads((build / "features" / "dataset.json").read_text())
    tflite, meta = build_int8(build, trained, arch, norm, train, feature_summary["features"],
                              feature_summary["dataset"], config)
    ops = meta["ops"]
    check_ops(ops, registered)
    check_pinned_tflm(ops, resolver_op_name)
    x_test_q = quantize_input(test["x"], meta)
    arena = meta["arena_bytes"]

    scores = run_backends(test["x"], meta, build)
    metrics = compute_metrics(scores, test["y"], meta)
    metrics["dataset"] = feature_summary["dataset"]
    metrics["split"] = "test"
    metrics["ops"] = ops
    metrics["params"] = train_summary["params"]
    if not args.smoke:
        check_collapse(dequantize_output(scores["tflm"], meta), "int8 model on TFLM, test split")
    (build / "metrics.json").write_text(json.dumps(metrics, indent=1))
    write_report(build / "report.md", metrics, scores, test["y"],
                 f"Float vs int8 vs device-equivalent: {feature_summary['dataset']} test split",
                 "\n![learning curves](curves.png)\n")

    gen = build / "gen"
    gen.mkdir(parents=True, exist_ok=True)
    src = f"{INT8_FILE} (model {meta['model_hash']})"
    write_model_data(gen, tflite, src)
    write_settings(gen, meta, src)
    # The TFLM scores of the evaluation are the self-test's expected scores: same kernels, reset per clip.
    sel = pick_selftest(test["y"], int(qcfg["selftest_clips"]))
    write_selftest(gen, x_test_q[sel], scores["tflm"][sel], test["y"][sel], src)
    print(f"int8 model {len(tflite)} bytes, arena {arena} bytes (firmware {meta['tensor_arena_size']}), ops {ops}")
    print(f"accuracy on {metrics['n_clips']} test clips: float {metrics['float']['accuracy']:.4f}, "
          f"int8 {metrics['int8']['accuracy']:.4f}, tflm (device-equivalent) {metrics['tflm']['accuracy']:.4f}; "
          f"agreement float/tflm {metrics['agreement']['float_tflm']:.4f} -> {build / 'metrics.json'}")
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m quantize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="skip the collapse check (tiny undertrained models)")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: main(parse_args()))
