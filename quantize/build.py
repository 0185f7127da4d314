"""The quantize stage: full-int8 conversion, op check, arena measurement, C arrays for the firmware.

Reads the float model of the training stage and refuses one that does not belong to the current features
(``train.json`` records the digest of ``features/dataset.json`` it was trained on). Writes, all replaced together
and only when the stage succeeds: ``model_int8.tflite`` (with metadata), ``model_meta.json`` (the contract every
later stage reads), ``gen/model_data.{h,cc}``, ``gen/model_settings.h``, ``gen/selftest_data.{h,cc}`` and, for
models the native engine supports, ``gen/native_model.{h,cc}`` (:mod:`quantize.native`).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import FLOAT_FILE, INT8_FILE, META_FILE, NORM_FILE, TRAIN_FILE, features_digest, staged_outputs
from data.config import REPO_ROOT, PipelineError, load_config
from data.datasets import load_split
from data.quiet import hushed
from data.features import apply_norm
from data.synth import is_synthetic
from data.windows import is_windowed
from quantize.codegen import write_model_data, write_selftest, write_settings
from quantize.native import Unsupported, write_native
from quantize.model_io import (TflmRunner, dequantize_output, device_input, embed_metadata,
                               measure_arena, model_hash, pick_selftest, tflite_ops)
from quantize.target import TARGET_ARENA_RATIO, check_pinned_tflm, firmware_arena_bytes
from train.collapse import check_collapse, check_constant_output
from train.metrics import check_recording_collapse
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


def check_ops(model_ops: list[str], registered: list[str], optional: tuple[str, ...] = ()) -> None:
    """Fail when the converted model and the firmware's op resolver disagree (``optional``: registered ops the
    model may leave unused, e.g. SOFTMAX for a regression model)."""
    missing = sorted(set(model_ops) - set(registered))
    unused = sorted(set(registered) - set(model_ops) - set(optional))
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
        with hushed():  # the converter prints its settings from C++
            return conv.convert()
    except Exception as e:  # the converter raises many types; one line is what the user needs
        raise PipelineError(f"int8 conversion failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")


def calibration_set(train: dict, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` raw training clips (n, frames, coeffs): the same number from every class and, within a class,
    from real and from synthetic speakers when both are present (representative of what the device will hear)."""
    rng = np.random.default_rng(seed)
    real = np.array([not is_synthetic(str(s)) for s in train["sources"]])
    # Regression targets (floats) are no classes: one group per kind of speaker.
    classes = np.unique(train["y"]) if train["y"].dtype.kind in "iu" else [None]
    groups = [np.flatnonzero(((train["y"] == c) if c is not None else True) & (real == r))
              for c in classes for r in (False, True)]
    groups = [g for g in groups if len(g)]
    per = max(1, n // len(groups))
    idx = np.concatenate([rng.permutation(g)[:per] for g in groups])
    return train["x"][np.sort(idx)]


def build_int8(out: Path, trained: Any, arch: str, norm: dict, train: dict, features: dict, dataset: str,
               config: dict, digest: str = "", windows: dict | None = None) -> tuple[bytes, dict]:
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
    digest : str
        :func:`data.artifacts.features_digest` of the features the model was trained on (recorded in the metadata).
    windows : dict, optional
        ``dataset.json``'s ``windows`` of a model trained on long recordings (:mod:`data.windows`): recorded in
        the metadata, so evaluating a folder of recordings windows them alike.

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
            "ops": ops, "dataset": dataset, "architecture": arch, "features_digest": digest,
            "task": config["model"]["task"]}
    if windows:
        meta["windows"] = windows
    # The .tflite carries everything but its own hash and arena (which depend on the final bytes).
    tflite = embed_metadata(tflite, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / INT8_FILE).write_bytes(tflite)
    arena = measure_arena(out / INT8_FILE, device_input(train["x"][:1], meta)[0])
    margin = float(qcfg["arena_margin"])
    meta |= {"model_hash": model_hash(tflite), "model_bytes": len(tflite), "arena_bytes": arena,
             "arena_margin": margin, "arena_target_ratio": TARGET_ARENA_RATIO,
             "tensor_arena_size": firmware_arena_bytes(arena, margin), "selftest_clips": int(qcfg["selftest_clips"])}
    (out / META_FILE).write_text(json.dumps(meta, indent=1))
    return tflite, meta


def check_training(build: Path) -> dict[str, Any]:
    """The training record of ``build``, refused in one line when the float model, its normalization or the
    features it was trained on are missing or do not belong together."""
    for name in (FLOAT_FILE, NORM_FILE, TRAIN_FILE):
        if not (build / name).is_file():
            raise PipelineError(f"{build / name}: missing; run `make train` first")
    record = json.loads((build / TRAIN_FILE).read_text())
    digest = features_digest(build / "features")
    if record.get("features_digest") != digest:
        labels = json.loads((build / "features" / "dataset.json").read_text())["labels"]
        raise PipelineError(f"{build / FLOAT_FILE} was trained on other features than {build / 'features'} "
                            f"(labels {record.get('labels')} vs {labels}; a later `make features` or a failed "
                            "`make train` changed them): run `make train` again")
    return record


def run(build: Path, smoke: bool) -> dict[str, Any]:
    """Convert, check and generate the firmware files; returns the model metadata."""
    config = load_config()
    record = check_training(build)
    # The model as it was trained (stacked layers, task), whatever config.toml says now.
    config["model"] = config["model"] | record.get("model_config", {})
    regression = config["model"]["task"] == "regression"
    train = load_split(build / "features" / "train.npz")
    test = load_split(build / "features" / "test.npz")
    norm = json.loads((build / NORM_FILE).read_text())
    registered = firmware_ops()
    import tf_keras as keras

    trained = keras.models.load_model(str(build / FLOAT_FILE), compile=False)
    if trained.output_shape[-1] != len(record["labels"]):
        raise PipelineError(f"{build / FLOAT_FILE}: {trained.output_shape[-1]} outputs, but {build / TRAIN_FILE} "
                            f"lists {len(record['labels'])} labels")
    with staged_outputs(build) as stage:
        windows = json.loads((build / "features" / "dataset.json").read_text()).get("windows")
        tflite, meta = build_int8(stage, trained, record["architecture"], norm, train, record["features"],
                                  record["dataset"], config, record["features_digest"], windows)
        check_ops(meta["ops"], registered, ("SOFTMAX",) if regression else ())
        check_pinned_tflm(meta["ops"], resolver_op_name)
        x_test = device_input(test["x"], meta)
        runner = TflmRunner(stage / INT8_FILE)
        tflm = np.stack([runner.scores(x) for x in x_test])
        if not smoke and regression:
            check_constant_output(dequantize_output(tflm, meta)[:, 0], test["y"], "int8 model on TFLM, test split")
        elif not smoke:
            check_collapse(dequantize_output(tflm, meta), "int8 model on TFLM, test split")
            if is_windowed(test):  # long recordings: also the mean of each recording's windows
                check_recording_collapse(dequantize_output(tflm, meta), test["recordings"],
                                         "int8 model on TFLM, test split")
        gen = stage / "gen"
        gen.mkdir()
        src = f"{INT8_FILE} (model {meta['model_hash']})"
        write_model_data(gen, tflite, src)
        write_settings(gen, meta, src)
        # The self-test expects the host TFLM's scores: same kernels, reset per clip.
        sel = pick_selftest(test["y"], meta["selftest_clips"])
        # A regression model's clips have no class: label index 0, its one output (the firmware checks the range).
        truth = np.zeros(len(sel), np.int64) if regression else test["y"][sel]
        write_selftest(gen, x_test[sel], tflm[sel], truth, src)
        try:
            native = write_native(gen, tflite, src)
        except Unsupported as e:
            native = None
            print(f"note: native engine: {e}; the firmware uses TFLM (ENGINE=tflm)")
    print(f"int8 model {meta['model_bytes']} bytes, arena {meta['arena_bytes']} bytes (firmware "
          f"{meta['tensor_arena_size']}), ops {', '.join(meta['ops'])}")
    if native is not None:
        print(f"native engine: generated ({native['static_ram_bytes']} bytes of static RAM)")
    print(f"wrote {build / INT8_FILE}, {build / META_FILE}, {build / 'gen'}/")
    return meta
