"""Architecture comparison on one split (``make compare-models``).

    python -m experiments.compare [--smoke] [--dataset synth] [--build build]

Trains every architecture of ``train.model.ARCHITECTURES`` (SimpleRNN, SimpleRNN+LayerNorm, GRU, LSTM, BiLSTM) with
the same data, seed, epochs and augmentation, and reports float accuracy, parameters, whether the full-int8 model
converts to TFLM-supported ops (and runs on TFLM), and int8 / TFLM accuracy where it does. The data stage runs into
``build/compare/``; the tables go to ``build/compare.md`` and ``build/compare.json``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from data.quiet import import_quietly

import_quietly()  # the imports below load TensorFlow: its start-up log lines hidden first (V=1 shows them)

from data.artifacts import FLOAT_FILE, INT8_FILE
from data.config import REPO_ROOT, load_config, run_main
from data.datasets import load_split
from data.features import apply_norm
from data.prepare import DataRequest, prepare
from host.evaluate import compute_metrics, run_backends
from host.runtime import Runtime
from quantize.build import build_int8, firmware_ops
from train.fit import train_model
from train.model import ARCHITECTURES
from train.stage import schedule

# Written by the child process that converts one architecture (absent when the converter crashed).
INT8_RESULT = "int8_result.json"
NAMES = {"simplernn": "SimpleRNN", "simplernn_ln": "SimpleRNN + LayerNorm", "gru": "GRU", "lstm": "LSTM",
         "bilstm": "BiLSTM"}


def compare_one(arch: str, splits: dict[str, dict], config: dict, length: tuple[int, int], out: Path,
                features: dict[str, Any], dataset: str) -> dict[str, Any]:
    """Train one architecture and try the int8/TFLM path.

    Returns
    -------
    dict
        ``architecture``, ``params``, ``float_accuracy``, ``converts`` (bool), ``ops``, ``tflm_runs`` (bool),
        ``int8_accuracy``/``tflm_accuracy``/``agreement_float_tflm`` (None where the path fails), ``model_bytes``,
        ``arena_bytes``, ``ops_not_in_firmware`` (ops the firmware's resolver would still have to register) and
        ``error`` (the one-line reason when it fails).
    """
    seed = int(config["train"]["seed"])
    test = splits["test"]
    model, norm, history = train_model(splits["train"], splits["val"], config, seed, length[0], None, arch, verbose=0,
                                      train_aug=splits.get("train_aug"), min_updates=length[1])
    out.mkdir(parents=True, exist_ok=True)
    for stale in (INT8_RESULT, INT8_FILE):
        (out / stale).unlink(missing_ok=True)
    model.save(out / FLOAT_FILE)
    float_pred = model.predict(apply_norm(test["x"], norm), verbose=0).argmax(1)
    row: dict[str, Any] = {"architecture": arch, "name": NAMES[arch], "params": int(model.count_params()),
                           "epochs": len(history["loss"]),
                           "float_accuracy": float(np.mean(float_pred == test["y"])), "converts": False,
                           "tflm_runs": False, "ops": None, "int8_accuracy": None, "tflm_accuracy": None,
                           "agreement_float_tflm": None, "model_bytes": None, "arena_bytes": None,
                           "ops_not_in_firmware": None, "error": None}
    (out / "norm.json").write_text(json.dumps(norm))
    # The int8 path runs in a child process: the converter crashes (SIGSEGV) on some recurrent layers.
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "experiments.compare", "--int8-of", arch, "--build",
                           str(out.parent.parent)], env=env, capture_output=True, text=True)
    if (out / INT8_RESULT).exists():
        row |= json.loads((out / INT8_RESULT).read_text())
    else:
        lines = proc.stderr.strip().splitlines()
        # build_int8 writes the .tflite right after conversion, before TFLM first runs it (arena measurement).
        row["converts"] = (out / INT8_FILE).exists()
        stage = "TFLM" if row["converts"] else "int8 conversion"
        crashed = f"{stage} crashed (exit status {proc.returncode})"
        row["error"] = lines[-1] if proc.returncode > 0 and lines else crashed
    print(f"  {NAMES[arch]}: float {row['float_accuracy']:.4f}, params {row['params']}, "
          f"tflm {row['tflm_accuracy'] if row['tflm_accuracy'] is not None else row['error']}", flush=True)
    return row


def int8_path(arch: str, work: Path, config: dict) -> None:
    """Child-process part of :func:`compare_one`: convert the saved model of ``arch`` and run it on TFLM; writes
    ``INT8_RESULT`` next to the model, or exits with the one-line reason."""
    import tf_keras as keras

    out = work / arch
    splits = {s: load_split(work / "features" / f"{s}.npz") for s in ("train", "test")}
    summary = json.loads((work / "features" / "dataset.json").read_text())
    model = keras.models.load_model(str(out / FLOAT_FILE), compile=False)
    norm = json.loads((out / "norm.json").read_text())
    _, meta = build_int8(out, model, arch, norm, splits["train"], summary["features"], summary["dataset"], config)
    row: dict[str, Any] = {"converts": True, "ops": meta["ops"], "model_bytes": meta["model_bytes"],
                           "arena_bytes": meta["arena_bytes"],
                           "ops_not_in_firmware": sorted(set(meta["ops"]) - set(firmware_ops()))}
    try:
        rt = Runtime.open(out, warn=False)
        m = compute_metrics(run_backends(splits["test"]["x"], rt), splits["test"]["y"], rt)
    except RuntimeError as e:  # TFLM refuses ops it has no kernel for
        (out / INT8_RESULT).write_text(json.dumps(row | {"error": str(e).strip().splitlines()[0]}))
        return
    row |= {"tflm_runs": True, "int8_accuracy": m["int8"]["accuracy"], "tflm_accuracy": m["tflm"]["accuracy"],
            "agreement_float_tflm": m["agreement"]["float_tflm"]}
    (out / INT8_RESULT).write_text(json.dumps(row))


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    def f(v: Any, fmt: str = ".4f") -> str:
        return "n/a" if v is None else format(v, fmt)

    lines = [f"# Architecture comparison ({report['dataset']}, test split of {report['test_clips']} clips)", "",
             f"Same split, seed {report['seed']}, same schedule ({report['epochs']}+ epochs), same augmentation; width "
             f"{report['units']} units per direction for the BiLSTM, {2 * report['units']} for the one-directional "
             "models.", "",
             "| model | params | float acc | int8 converts | TFLM runs | int8 acc | TFLM acc | agreement float/TFLM | "
             "model bytes | arena bytes | ops / failure | ops the firmware lacks |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["models"]:
        detail = ", ".join(r["ops"]) if r["error"] is None else r["error"]
        lacking = ", ".join(r["ops_not_in_firmware"] or []) or ("none" if r["converts"] else "n/a")
        lines.append(f"| {r['name']} | {r['params']} | {f(r['float_accuracy'])} | {'yes' if r['converts'] else 'no'} "
                     f"| {'yes' if r['tflm_runs'] else 'no'} | {f(r['int8_accuracy'])} | {f(r['tflm_accuracy'])} | "
                     f"{f(r['agreement_float_tflm'])} | {f(r['model_bytes'], 'd')} | {f(r['arena_bytes'], 'd')} | "
                     f"{detail} | {lacking} |")
    path.write_text("\n".join(lines) + "\n")


def main(args: argparse.Namespace) -> dict[str, Any] | None:
    config = load_config()
    work = args.build / "compare"
    if args.int8_of:
        int8_path(args.int8_of, work, config)
        return None
    summary = prepare(DataRequest(args.dataset, work, args.fsdd_dir, smoke=args.smoke))
    feats = work / "features"
    splits = {s: load_split(feats / f"{s}.npz") for s in ("train", "val", "test")}
    if (feats / "train_aug.npz").exists():
        splits["train_aug"] = load_split(feats / "train_aug.npz")
    length = schedule(config, args.smoke)
    rows = [compare_one(a, splits, config, length, work / a, summary["features"], args.dataset)
            for a in ARCHITECTURES]
    report = {"dataset": args.dataset, "seed": int(config["train"]["seed"]), "epochs": length[0],
              "units": int(config["model"]["lstm_units"]), "test_clips": int(len(splits["test"]["y"])),
              "smoke": args.smoke, "models": rows}
    (args.build / "compare.json").write_text(json.dumps(report, indent=1))
    write_markdown(args.build / "compare.md", report)
    print(f"compare: {len(rows)} architectures -> {args.build / 'compare.md'}")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m experiments.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="synth", help="dataset of the data stage (python -m data --dataset)")
    p.add_argument("--fsdd-dir", type=Path, default=Path("../shared/data/fsdd"))
    p.add_argument("--smoke", action="store_true", help="tiny data and a couple of epochs, for tests")
    p.add_argument("--build", type=Path, default=Path("build"))
    p.add_argument("--int8-of", choices=ARCHITECTURES, help=argparse.SUPPRESS)  # internal: the child process
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: main(parse_args()), tensorflow=True)
