"""``build/harness/report.md``: comparison table, device confusion matrix and device-vs-host score plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI machines or over SSH
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

REPORT_FILE = "report.md"
CONFUSION_PNG = "confusion_device.png"
SCORES_PNG = "scores_device_vs_host.png"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def write_report(out_dir: Path, summary: dict[str, Any], labels: list[str], y: np.ndarray, device_top: np.ndarray,
                 device_prob: np.ndarray, tflm_prob: np.ndarray, float_prob: np.ndarray) -> Path:
    """Write ``report.md`` and its two figures into ``out_dir``.

    Parameters
    ----------
    summary : dict
        From ``host.harness.summarize``.
    labels : list of str
        Class names, ``num_labels`` of them.
    y : np.ndarray, shape (n,), int
        True label indices; -1 for clips whose folder is not a label (left out of the confusion matrix).
    device_top : np.ndarray, shape (n,), int
        Predicted index on the device.
    device_prob, tflm_prob, float_prob : np.ndarray, shape (n, num_labels), float
        Dequantized device scores, dequantized host TFLM scores, float-model softmax.

    Returns
    -------
    Path
        The report file.
    """
    labelled = y >= 0
    if labelled.any():
        fig, ax = plt.subplots(figsize=(7, 6))
        ConfusionMatrixDisplay.from_predictions(y[labelled], device_top[labelled], labels=range(len(labels)),
                                                display_labels=labels, ax=ax, colorbar=False,
                                                xticks_rotation=45)
        ax.set_title("Device confusion matrix")
        fig.tight_layout()
        fig.savefig(out_dir / CONFUSION_PNG, dpi=120)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(float_prob.ravel(), device_prob.ravel(), s=6, alpha=0.4, label="host float")
    ax.scatter(tflm_prob.ravel(), device_prob.ravel(), s=6, alpha=0.4, marker="x", label="host TFLM int8")
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.set_xlabel("host score")
    ax.set_ylabel("device score (dequantized int8)")
    ax.set_title("Device vs host scores, all classes of all clips")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / SCORES_PNG, dpi=120)
    plt.close(fig)

    dev, lat, cyc = summary["device"], summary["latency"]["us"], summary["latency"]["cycles"]
    cps = summary["throughput"]["clips_per_second"]
    lines = [
        "# Host harness report" + (" (partial)" if "partial" in summary else ""), "",
        *([f"**Partial:** {summary['partial']}.", ""] if "partial" in summary else []),
        f"{summary['clips']} clips ({summary['source']}) on `{dev['port']}`, firmware {dev['fw']}, model "
        f"{dev['model']}, arena {dev['arena']} bytes; {dev['retries']} retries, {dev['resets']} device resets.", "",
        "| backend | accuracy | top-1 agreement with device | int8 scores identical to device |",
        "| --- | --- | --- | --- |",
        f"| device | {_pct(dev['accuracy'])} | — | — |",
        f"| host TFLM (int8) | {_pct(summary['host_tflm']['accuracy'])} | "
        f"{_pct(summary['agreement']['device_tflm'])} | {_pct(summary['identical']['device_tflm'])} |",
        f"| host LiteRT (int8) | {_pct(summary['host_int8']['accuracy'])} | "
        f"{_pct(summary['agreement']['device_int8'])} | {_pct(summary['identical']['device_int8'])} |",
        f"| host float | {_pct(summary['host_float']['accuracy'])} | {_pct(summary['agreement']['device_float'])} "
        "| — |", "",
        "| latency | min | median | max |", "| --- | --- | --- | --- |",
        f"| µs | {lat['min']:g} | {lat['median']:g} | {lat['max']:g} |",
        f"| cycles | {cyc['min']:g} | {cyc['median']:g} | {cyc['max']:g} |", "",
        "Latency as the device reports it for one inference: a board's microsecond clock and cycle counter; the "
        "virtual device (`fw=…-virtual`) reports host time and 0 cycles.", "",
        f"Throughput: {'n/a' if cps is None else f'{cps:.1f}'} clips/s (host round trip, load + infer).", "",
    ]
    if "answers" in summary:
        ans = summary["answers"]
        lines += ["| answers | " + " | ".join(ans["device"]) + " |", "| --- |" + " --- |" * len(ans["device"]),
                  "| device | " + " | ".join(str(v) for v in ans["device"].values()) + " |",
                  "| host TFLM | " + " | ".join(str(v) for v in ans["host_tflm"].values()) + " |", "",
                  "A clip is a word when its top label does not start with `_` and its score reaches the model's "
                  "`min_word_score`; the device's answers are " + (
                      "its own (`answer=`)" if ans["sent_by_device"]
                      else "decided on the host from its scores (a device before protocol 2.2)")
                  + f", {_pct(ans['identical_device_tflm'])} identical to the host TFLM's.", ""]
    if "regression" in summary:
        reg = summary["regression"]
        lines += [f"Regression (device value {reg['device_value']}):", "", "| backend | MSE | MAE | R² |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {k} | {reg[k]['mse']:.5g} | {reg[k]['mae']:.5g} | {reg[k]['r2']:.4f} |"
                  for k in ("device", "host_tflm", "host_float")]
        dvh = reg["device_vs_host"]
        lines += ["", f"Device vs host: largest |device - host TFLM| {dvh['max_abs_tflm']:.3g}, mean |device - host "
                  f"float| {dvh['mae_float']:.3g} (largest {dvh['max_abs_float']:.3g}).", ""]
    if "recording" in summary:
        rec = summary["recording"]
        lines += [f"Per recording ({rec['recordings']} recordings, mean of their windows' scores): device "
                  f"{_pct(rec['device']['accuracy'])}, host TFLM {_pct(rec['host_tflm']['accuracy'])}, host float "
                  f"{_pct(rec['host_float']['accuracy'])}.", ""]
    if labelled.any():
        lines += [f"![device confusion matrix]({CONFUSION_PNG})", ""]
    lines += [f"![device vs host scores]({SCORES_PNG})", ""]
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines))
    return path
