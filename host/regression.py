"""Evaluation of a regression model (``model_meta.json`` ``task = "regression"``) three ways on the test split:
``mse``, ``mae``, ``r2`` per backend (float, int8 on LiteRT, int8 on TFLM) in ``build/metrics.json``, the
float-vs-int8 error of the predictions, and ``report.md`` with a predicted-vs-target plot."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import staged_outputs
from host.runtime import Runtime
from train.metrics import regression_scores

BACKENDS = ("float", "int8", "tflm")
NAMES = {"float": "float (Keras)", "int8": "int8 (LiteRT)", "tflm": "int8 on TFLM (device-equivalent)"}
SCATTER_PNG = "report_regression.png"


def predictions(rt: Runtime, x_raw: np.ndarray) -> dict[str, np.ndarray]:
    """Predicted values (n,) of every host backend; the int8 outputs dequantized."""
    return {k: rt.probabilities(k, rt.scores(k, x_raw))[:, 0].astype(np.float64) for k in BACKENDS}


def regression_metrics(values: dict[str, np.ndarray], y: np.ndarray, rt: Runtime) -> dict[str, Any]:
    """``metrics.json`` of a regression model: per backend ``mse``, ``mae``, ``r2``; ``agreement``: how far the
    int8 predictions are from the float ones (mean and largest absolute difference) and how often TFLM's equal
    LiteRT's exactly."""
    m: dict[str, Any] = {"task": "regression", "n_clips": int(len(y)), "labels": rt.labels,
                         "target": {"mean": float(np.mean(y)), "std": float(np.std(y))}}
    for k in BACKENDS:
        m[k] = regression_scores(y, values[k])
    m["agreement"] = {f"mae_float_{k}": float(np.mean(np.abs(values["float"] - values[k]))) for k in ("int8", "tflm")}
    m["agreement"] |= {f"max_abs_float_{k}": float(np.max(np.abs(values["float"] - values[k])))
                       for k in ("int8", "tflm")}
    m["identical"] = {"int8_tflm": float(np.mean(values["int8"] == values["tflm"]))}
    meta = rt.meta
    m |= {"output": meta["output"], "model_bytes": meta["model_bytes"], "arena_bytes": meta["arena_bytes"],
          "tensor_arena_size": meta["tensor_arena_size"], "model_hash": meta["model_hash"]}
    return m


def plot_predictions(values: dict[str, np.ndarray], y: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    for k, marker in zip(BACKENDS, ("o", "x", "+")):
        ax.scatter(y, values[k], s=12, alpha=0.6, marker=marker, label=NAMES[k])
    lo, hi = float(min(y.min(), *(v.min() for v in values.values()))), float(max(y.max(), *(v.max() for v in
                                                                                       values.values())))
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    ax.set_xlabel("target")
    ax.set_ylabel("prediction")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(metrics: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", "", f"{metrics['n_clips']} test clips, targets mean {metrics['target']['mean']:.4g}, std "
             f"{metrics['target']['std']:.4g}. Device-equivalent = int8 on TFLM's own kernels (`tflite-micro`), "
             "output dequantized: what the board sends as `value=`.", "",
             "| backend | MSE | MAE | R² |", "| --- | --- | --- | --- |"]
    lines += [f"| {NAMES[k]} | {metrics[k]['mse']:.5g} | {metrics[k]['mae']:.5g} | {metrics[k]['r2']:.4f} |"
              for k in BACKENDS]
    a = metrics["agreement"]
    lines += ["", "| comparison | value |", "| --- | --- |",
              f"| mean absolute difference float vs int8 / TFLM | {a['mae_float_int8']:.5g} / "
              f"{a['mae_float_tflm']:.5g} |",
              f"| largest absolute difference float vs int8 / TFLM | {a['max_abs_float_int8']:.5g} / "
              f"{a['max_abs_float_tflm']:.5g} |",
              f"| identical int8 vs TFLM predictions | {metrics['identical']['int8_tflm']:.4f} |",
              f"| model bytes / arena bytes (measured) | {metrics['model_bytes']} / {metrics['arena_bytes']} |", "",
              f"![predicted vs target]({SCATTER_PNG})", "", "![learning curves](curves.png)", ""]
    return "\n".join(lines)


def evaluate_regression(build: Path, rt: Runtime, metrics_file: str, report_file: str) -> dict[str, Any]:
    """The test split of a regression build: ``metrics_file`` and ``report_file`` (+ plot), replaced together."""
    test = rt.test_split()
    y = test["y"].astype(np.float64)
    values = predictions(rt, test["x"])
    metrics = regression_metrics(values, y, rt) | {"dataset": rt.meta["dataset"], "split": "test",
                                                   "ops": rt.meta["ops"]}
    with staged_outputs(build) as stage:
        (stage / metrics_file).write_text(json.dumps(metrics, indent=1))
        plot_predictions(values, y, stage / SCATTER_PNG)
        (stage / report_file).write_text(report(metrics, f"Regression, float vs int8 vs device-equivalent: "
                                                          f"{rt.meta['dataset']} test split"))
    print("on {} test clips: ".format(metrics["n_clips"]) + "; ".join(
        f"{k} MSE {metrics[k]['mse']:.4g} MAE {metrics[k]['mae']:.4g} R2 {metrics[k]['r2']:.3f}" for k in BACKENDS))
    print(f"wrote {build / metrics_file}, {build / report_file}")
    return metrics
