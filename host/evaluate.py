"""Evaluation of the built model three ways on the same clips: float, int8 (LiteRT) and int8 on TFLM.

    python -m host.evaluate [--build build]                                   the test split -> metrics.json, report.md
    python -m host.evaluate --data <folder of <label>/*.wav> --out <file.json> [--skip-bad]

Runs after ``python -m quantize`` in ``make quantize``; every parameter comes from the model (:mod:`host.runtime`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import check_output_file, staged_outputs
from data.config import PipelineError, run_main
from data.datasets import extract_clips, load_folder
from data.nothing import is_nothing
from data.windows import is_windowed
from host.recordings import recording_metrics, report_section
from host.runtime import Runtime
from train.collapse import prediction_stats

BACKENDS = ("float", "int8", "tflm")
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"


def run_backends(x_raw: np.ndarray, rt: Runtime) -> dict[str, np.ndarray]:
    """Scores of every clip on every host backend.

    Parameters
    ----------
    x_raw : np.ndarray, shape (n, frames, coeffs)
        Raw MFCCs.

    Returns
    -------
    dict
        ``float`` (n, labels) float32 probabilities; ``int8`` and ``tflm`` (n, labels) int8 scores; ``native``
        (n, labels) int8 scores when the model was compiled for the native engine.
    """
    names = BACKENDS + (("native",) if rt.has_native else ())
    return {name: rt.scores(name, x_raw) for name in names}


def _rmse_cos(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    rmse = float(np.sqrt(np.mean((a - b) ** 2)))
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    return rmse, float(np.mean(cos))


def label_metrics(y: np.ndarray, pred: np.ndarray, num_labels: int) -> dict[str, Any]:
    """Accuracy, macro F1 and the confusion matrix (rows: true label, columns: predicted label) of predicted label
    indices ``pred`` (n,) against ``y`` (n,)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    classes = range(num_labels)
    return {"accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", labels=classes, zero_division=0)),
            "confusion": confusion_matrix(y, pred, labels=classes).tolist()}


def compute_metrics(scores: dict[str, np.ndarray], y: np.ndarray, rt: Runtime) -> dict[str, Any]:
    """The metrics schema shared by ``build/metrics.json`` and ``make evaluate``.

    Parameters
    ----------
    scores : dict
        From :func:`run_backends`.
    y : np.ndarray, shape (n,)
        True label indices.
    """
    from sklearn.metrics import f1_score, roc_auc_score

    meta = rt.meta
    labels = meta["labels"]
    pred = {k: v.argmax(axis=1) for k, v in scores.items()}
    probs = {k: rt.probabilities(k, v) for k, v in scores.items()}
    m: dict[str, Any] = {"n_clips": int(len(y)), "labels": labels}
    for k in BACKENDS:
        m[k] = {**label_metrics(y, pred[k], len(labels)), "predictions": prediction_stats(probs[k])}
        if len(labels) == 2 and len(set(y.tolist())) == 2:
            # Binary task: the second label is the positive class.
            m[k]["roc_auc"] = float(roc_auc_score(y, probs[k][:, 1]))
            m[k]["f1"] = float(f1_score(y, pred[k], pos_label=1))
    m["agreement"] = {"float_int8": float(np.mean(pred["float"] == pred["int8"])),
                      "int8_tflm": float(np.mean(pred["int8"] == pred["tflm"])),
                      "float_tflm": float(np.mean(pred["float"] == pred["tflm"]))}
    m["identical"] = {"int8_tflm": float(np.mean(np.all(scores["int8"] == scores["tflm"], axis=1)))}
    if "native" in scores:
        m["native"] = label_metrics(y, pred["native"], len(labels))
        m["identical"]["native_tflm"] = float(np.mean(np.all(scores["native"] == scores["tflm"], axis=1)))
    m["scores"] = {}
    for other in ("int8", "tflm"):
        rmse, cos = _rmse_cos(probs["float"], probs[other])
        m["scores"][f"rmse_float_{other}"], m["scores"][f"cosine_float_{other}"] = rmse, cos
    m["model_bytes"] = meta["model_bytes"]
    m["arena_bytes"] = meta["arena_bytes"]
    m["tensor_arena_size"] = meta["tensor_arena_size"]
    m["model_hash"] = meta["model_hash"]
    return m


def plot_confusion(y: np.ndarray, pred: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(y, pred, labels=list(range(len(labels))), display_labels=labels,
                                            ax=ax, colorbar=False, xticks_rotation=45)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(path: Path, metrics: dict[str, Any], scores: dict[str, np.ndarray], y: np.ndarray,
                 title: str, extra: str = "") -> None:
    """Markdown report with per-class precision/recall/F1 and confusion matrices (PNG next to it)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = metrics["labels"]
    lines = [f"# {title}", "", f"{metrics['n_clips']} clips of {metrics.get('speakers', 'the given folder')}. "
             "Device-equivalent = int8 on TFLM's own kernels (`tflite-micro`), what the board computes. Accuracy on "
             "real speakers the model never heard: `make evaluate DATA=<folder>` and `make cv` (README).", "",
             "| backend | accuracy | macro F1 |" + (" ROC-AUC |" if "roc_auc" in metrics["float"] else ""),
             "| --- | --- | --- |" + (" --- |" if "roc_auc" in metrics["float"] else "")]
    names = {"float": "float (Keras)", "int8": "int8 (LiteRT)", "tflm": "int8 on TFLM (device-equivalent)"}
    for k in BACKENDS:
        row = f"| {names[k]} | {metrics[k]['accuracy']:.4f} | {metrics[k]['macro_f1']:.4f} |"
        lines.append(row + (f" {metrics[k]['roc_auc']:.4f} |" if "roc_auc" in metrics[k] else ""))
    a, s = metrics["agreement"], metrics["scores"]
    lines += ["", "| comparison | value |", "| --- | --- |",
              f"| top-1 agreement float vs int8 | {a['float_int8']:.4f} |",
              f"| top-1 agreement int8 vs TFLM | {a['int8_tflm']:.4f} |",
              f"| top-1 agreement float vs TFLM | {a['float_tflm']:.4f} |",
              f"| byte-identical int8 vs TFLM scores | {metrics['identical']['int8_tflm']:.4f} |",
              *([f"| byte-identical native engine vs TFLM scores | {metrics['identical']['native_tflm']:.4f} |"]
                if "native_tflm" in metrics["identical"] else []),
              f"| score RMSE float vs int8 | {s['rmse_float_int8']:.5f} |",
              f"| score cosine float vs int8 | {s['cosine_float_int8']:.5f} |",
              f"| score RMSE float vs TFLM | {s['rmse_float_tflm']:.5f} |",
              f"| model bytes / arena bytes (measured) | {metrics['model_bytes']} / {metrics['arena_bytes']} |", ""]
    for k in BACKENDS:
        p, r, f, n = precision_recall_fscore_support(y, scores[k].argmax(1), labels=range(len(labels)),
                                                     zero_division=0)
        lines += [f"## Per class, {names[k]}", "", "| label | precision | recall | F1 | clips |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {lab} | {p[i]:.3f} | {r[i]:.3f} | {f[i]:.3f} | {n[i]} |" for i, lab in enumerate(labels)]
        png = path.parent / f"{path.stem}_confusion_{k}.png"
        plot_confusion(y, scores[k].argmax(1), labels, f"{names[k]}: accuracy {metrics[k]['accuracy']:.3f}", png)
        lines += ["", f"![confusion {k}]({png.name})", ""]
        st = metrics[k]["predictions"]
        lines += [f"Prediction histogram {st['histogram']}, normalized entropy {st['entropy']:.3f}.", ""]
    path.write_text("\n".join(lines) + extra)


def evaluate_split(build: Path) -> dict[str, Any]:
    """The test split of ``build/features``: ``metrics.json``, ``report.md`` and its figures, replaced together."""
    rt = Runtime.open(build)
    if rt.meta.get("task") == "regression":  # one value per clip: MSE, MAE, R2 (host/regression.py)
        from host.regression import evaluate_regression

        return evaluate_regression(build, rt, METRICS_FILE, REPORT_FILE)
    test = rt.test_split()
    scores = run_backends(test["x"], rt)
    metrics = compute_metrics(scores, test["y"], rt)
    metrics |= {"dataset": rt.meta["dataset"], "split": "test", "ops": rt.meta["ops"],
                "speakers": f"the test split's speakers ({rt.meta['dataset']} dataset; the default dataset's are "
                            "synthetic voices and held-out Speech Commands speakers)"}
    extra = "\n![learning curves](curves.png)\n"
    if is_windowed(test):  # long recordings: per-recording results beside the per-window ones
        metrics["recording"] = recording_metrics({k: rt.probabilities(k, v) for k, v in scores.items()}, test,
                                                 rt.labels)
        extra = report_section(metrics["recording"], metrics, BACKENDS) + extra
    with staged_outputs(build) as stage:
        (stage / METRICS_FILE).write_text(json.dumps(metrics, indent=1))
        write_report(stage / REPORT_FILE, metrics, scores, test["y"],
                     f"Float vs int8 vs device-equivalent: {rt.meta['dataset']} test split", extra)
    print(f"accuracy on {metrics['n_clips']} test clips: float {metrics['float']['accuracy']:.4f}, "
          f"int8 {metrics['int8']['accuracy']:.4f}, tflm (device-equivalent) {metrics['tflm']['accuracy']:.4f}; "
          f"agreement float/tflm {metrics['agreement']['float_tflm']:.4f}")
    if "recording" in metrics:
        rec = metrics["recording"]
        print(f"per recording ({rec['n_recordings']} recordings, mean of their windows): tflm accuracy "
              f"{rec['accuracy']:.4f}" + (f", ROC-AUC {rec['roc_auc']:.4f}" if "roc_auc" in rec else ""))
    print(f"wrote {build / METRICS_FILE}, {build / REPORT_FILE}")
    return metrics


def evaluate_folder(data: Path, out: Path, build: Path, skip_bad: bool) -> dict[str, Any]:
    """``make evaluate``: the built models on any ``<label>/*.wav`` folder; writes ``out`` (JSON) and the report
    next to it (``out`` with ``.md``). ``out`` is checked before any work."""
    check_output_file(out, ".json")
    rt = Runtime.open(build)
    clips = load_folder(data)
    nothing = [lab for lab in rt.labels if is_nothing(lab) and (data / lab).is_dir()]
    if nothing:  # the model's _silence_/_unknown_ folders are labels too (load_folder skips "_" folders)
        clips = load_folder(data, sorted({c.label for c in clips}) + nothing)
    unknown = sorted({c.label for c in clips} - set(rt.labels))
    if unknown:
        raise PipelineError(f"{data}: labels {unknown} are not known to the model (it knows {rt.labels})")
    windowed = None
    if rt.meta.get("windows"):  # a model of long recordings: every recording cut into the same windows
        from data.windows import extract_windows, window_rows

        x, ok, counts, seconds, skipped = extract_windows(clips, rt.params, rt.meta["windows"]["hop_samples"],
                                                          build / "cache" / "windows", skip_bad)
        windowed = window_rows(ok, counts, seconds, rt.labels)
    else:
        x, ok, skipped = extract_clips(clips, rt.params, build / "cache" / "features", skip_bad, desc="features")
    if not ok:
        raise PipelineError(f"{data}: no readable clips")
    y = windowed["y"] if windowed else np.array([rt.labels.index(c.label) for c in ok])
    scores = run_backends(x, rt)
    metrics = compute_metrics(scores, y, rt)
    metrics["data"] = str(data)
    metrics["skipped"] = skipped
    extra = ("\n## Skipped files\n\n" + "\n".join(f"- {s}" for s in skipped) + "\n") if skipped else ""
    if windowed:
        metrics["recording"] = recording_metrics({k: rt.probabilities(k, v) for k, v in scores.items()}, windowed,
                                                 rt.labels)
        extra = report_section(metrics["recording"], metrics, BACKENDS) + extra
    with staged_outputs(out.parent) as stage:
        (stage / out.name).write_text(json.dumps(metrics, indent=1))
        write_report(stage / out.with_suffix(".md").name, metrics, scores, y, f"Evaluation on {data}", extra)
    print(f"{data}: float {metrics['float']['accuracy']:.4f}, int8 {metrics['int8']['accuracy']:.4f}, "
          f"tflm {metrics['tflm']['accuracy']:.4f} on {len(y)} clips" + (
              f" ({len(ok)} recordings: tflm accuracy {metrics['recording']['accuracy']:.4f} per recording)"
              if windowed else ""))
    print(f"wrote {out}, {out.with_suffix('.md')}")
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m host.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, help="folder of <label>/*.wav (any rate, mono or stereo); default: the "
                   "test split")
    p.add_argument("--out", type=Path, default=Path("build/evaluate.json"), help="with --data: the JSON to write")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files and list them in the report")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    run_main(lambda: evaluate_folder(args.data, args.out, args.build, args.skip_bad) if args.data
             else evaluate_split(args.build), tensorflow=True)
