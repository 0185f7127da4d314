"""Per-recording results of a windowed split (:mod:`data.windows`): a recording's scores are the mean of its
windows' probabilities (:func:`train.metrics.recording_means`); accuracy, F1, confusion and (two classes) ROC-AUC
per recording, and the duration-bias check (accuracy against recording duration, and how well duration alone would
predict the label)."""
from __future__ import annotations

from typing import Any

import numpy as np

from data.config import PipelineError
from data.windows import is_windowed
from train.collapse import prediction_stats
from train.metrics import recording_means

# Duration bins of the duration-bias check: recording-duration quantiles, at most this many bins.
DURATION_BINS = 4


def _label_metrics(y: np.ndarray, probs: np.ndarray, num_labels: int) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

    pred = probs.argmax(axis=1)
    classes = list(range(num_labels))
    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=classes, zero_division=0)),
        "confusion": confusion_matrix(y, pred, labels=classes).tolist(), "predictions": prediction_stats(probs)}
    if num_labels == 2 and len(set(y.tolist())) == 2:  # the second label is the positive class
        out["roc_auc"] = float(roc_auc_score(y, probs[:, 1]))
        out["f1"] = float(f1_score(y, pred, pos_label=1, zero_division=0))
    return out


def duration_bias(y: np.ndarray, seconds: np.ndarray, correct: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """The duration-bias check of per-recording results.

    Parameters
    ----------
    y, seconds, correct : np.ndarray, shape (n_recordings,)
        True label, duration (s) and whether the recording was classified right.

    Returns
    -------
    dict
        ``seconds_per_label`` (mean/min/max per label), ``accuracy_by_duration`` (duration-quantile bins: range,
        recordings, accuracy) and, for two classes, ``duration_roc_auc``: the ROC-AUC of duration alone as the
        score (0.5: duration says nothing about the class; near 0 or 1: the classes differ in length, so a model
        may learn duration instead of voice).
    """
    out: dict[str, Any] = {"seconds_per_label": {
        lab: {"recordings": int((y == i).sum()), "mean": float(seconds[y == i].mean()),
              "min": float(seconds[y == i].min()), "max": float(seconds[y == i].max())}
        for i, lab in enumerate(labels) if (y == i).any()}}
    edges = np.unique(np.quantile(seconds, np.linspace(0, 1, DURATION_BINS + 1)))
    bins = np.clip(np.searchsorted(edges, seconds, side="right") - 1, 0, max(len(edges) - 2, 0))
    out["accuracy_by_duration"] = [
        {"seconds": [float(seconds[bins == b].min()), float(seconds[bins == b].max())],
         "recordings": int((bins == b).sum()), "accuracy": float(correct[bins == b].mean())}
        for b in np.unique(bins)]
    if len(labels) == 2 and len(set(y.tolist())) == 2:
        from sklearn.metrics import roc_auc_score

        out["duration_roc_auc"] = float(roc_auc_score(y, seconds))
    return out


def recording_metrics(probs: dict[str, np.ndarray], split: dict[str, np.ndarray], labels: list[str],
                      device_backend: str = "tflm") -> dict[str, Any]:
    """``metrics.json``'s ``recording``: per backend the per-recording metrics, and at the top ``accuracy``,
    ``roc_auc`` (two classes), ``f1`` of ``device_backend`` (what the board computes), the number of recordings
    and the duration-bias check.

    Parameters
    ----------
    probs : dict
        Backend name -> window probabilities (n_windows, labels).
    split : dict
        The windowed split (``y``, ``recordings``, ``durations`` per window).
    """
    if not is_windowed(split):
        raise PipelineError("per-recording metrics need a windowed split (data/windows.py)")
    first = None
    out: dict[str, Any] = {}
    for name, p in probs.items():
        first, means = recording_means(p, split["recordings"])
        out[name] = _label_metrics(split["y"][first], means, len(labels))
    y, seconds = split["y"][first], split["durations"][first].astype(np.float64)
    windows = np.bincount(np.unique(split["recordings"], return_inverse=True)[1])
    device = out[device_backend]
    _, means = recording_means(probs[device_backend], split["recordings"])
    out |= {"n_recordings": int(len(first)), "windows_per_recording": {"min": int(windows.min()),
                                                                      "max": int(windows.max())},
            "backend": device_backend, "accuracy": device["accuracy"],
            **{k: device[k] for k in ("roc_auc", "f1") if k in device},
            "duration": duration_bias(y, seconds, means.argmax(axis=1) == y, labels)}
    return out


def report_section(rec: dict[str, Any], window_metrics: dict[str, Any], backends: tuple[str, ...]) -> str:
    """Markdown for ``report.md``: per-window vs per-recording results, and the duration-bias check."""
    binary = "roc_auc" in rec[backends[0]]
    head = "| backend | windows: accuracy | recordings: accuracy | recordings: macro F1 |"
    lines = ["", "## Long recordings: per window and per recording", "",
             f"{rec['n_recordings']} recordings cut into {window_metrics['n_clips']} windows "
             f"({rec['windows_per_recording']['min']}-{rec['windows_per_recording']['max']} per recording); a "
             "recording's scores are the mean of its windows' probabilities.", "",
             head + (" recordings: ROC-AUC | recordings: F1 |" if binary else ""),
             "| --- | --- | --- | --- |" + (" --- | --- |" if binary else "")]
    for k in backends:
        row = f"| {k} | {window_metrics[k]['accuracy']:.4f} | {rec[k]['accuracy']:.4f} | {rec[k]['macro_f1']:.4f} |"
        lines.append(row + (f" {rec[k]['roc_auc']:.4f} | {rec[k]['f1']:.4f} |" if binary else ""))
    dev = rec[rec["backend"]]
    lines += ["", f"Per-recording confusion ({rec['backend']}, rows: true label): {dev['confusion']}; prediction "
              f"histogram {dev['predictions']['histogram']}, spread of the top score "
              f"{dev['predictions']['top_score_std']:.3g}.", "",
              "### Duration-bias check", "", "| label | recordings | mean s | min s | max s |",
              "| --- | --- | --- | --- | --- |"]
    dur = rec["duration"]
    lines += [f"| {lab} | {d['recordings']} | {d['mean']:.2f} | {d['min']:.2f} | {d['max']:.2f} |"
              for lab, d in dur["seconds_per_label"].items()]
    lines += ["", "| duration (s) | recordings | accuracy |", "| --- | --- | --- |"]
    lines += [f"| {b['seconds'][0]:.2f}-{b['seconds'][1]:.2f} | {b['recordings']} | {b['accuracy']:.4f} |"
              for b in dur["accuracy_by_duration"]]
    if "duration_roc_auc" in dur:
        lines += ["", f"Duration alone as the score: ROC-AUC {dur['duration_roc_auc']:.3f} (0.5: the classes do not "
                  "differ in length; near 0 or 1 they do, and a model may have learned length, not voice)."]
    return "\n".join(lines) + "\n"
