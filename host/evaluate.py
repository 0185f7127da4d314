"""Evaluation of the built model three ways on the same clips: float, int8 (LiteRT) and int8 on TFLM.

    python -m host.evaluate [--build build]                                   the test split -> metrics.json, report.md
    python -m host.evaluate --data <folder of <label>/*.wav> --out <file.json> [--skip-bad]
    python -m host.evaluate --data <folder of *.wav> --label <label> --out <file.json>

Runs after ``python -m quantize`` in ``make quantize``; every parameter comes from the model (:mod:`host.runtime`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data.artifacts import check_output_file, staged_outputs
from data.config import PipelineError, run_main
from data.datasets import Clip, extract_clips
from data.nothing import ANSWERS, LOW_CONFIDENCE, NOT_A_WORD, WORD, is_nothing
from data.windows import is_windowed
from host.answers import Answer, answer_counts, answers, counts_text, file_is_tone
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
    found = {k: answers(rt, k, rt.probabilities(k, scores[k])) for k in BACKENDS}
    metrics["answers"] = {k: answer_counts(v) for k, v in found.items()}
    metrics["answer_rule"] = rt.meta["answer"]
    extra = answers_section(metrics) + "\n![learning curves](curves.png)\n"
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
    print(f"answers (tflm, what the board says): {counts_text(metrics['answers']['tflm'])}")
    if "recording" in metrics:
        rec = metrics["recording"]
        print(f"per recording ({rec['n_recordings']} recordings, mean of their windows): tflm accuracy "
              f"{rec['accuracy']:.4f}" + (f", ROC-AUC {rec['roc_auc']:.4f}" if "roc_auc" in rec else ""))
    print(f"wrote {build / METRICS_FILE}, {build / REPORT_FILE}")
    return metrics


def evaluation_clips(data: Path, label: str | None, labels: list[str]) -> list[Clip]:
    """The clips of ``make evaluate``: every ``<data>/<label>/*.wav`` (one label folder is enough), or with ``label``
    the ``*.wav`` files directly in ``data``, all of that label. A label folder whose name starts with ``_`` holds
    clips that are no word of the model (noise, other words, tones: :func:`nonword_report`); Speech Commands'
    ``_background_noise_`` (long noise recordings, not clips) is not one."""
    from data.datasets import SPEECH_COMMANDS_NOISE_DIR, source_of

    if not data.is_dir():
        raise PipelineError(f"{data}: no such folder")

    def wavs(folder: Path) -> list[Path]:
        try:
            return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav")
        except OSError as e:
            raise PipelineError(f"{folder}: cannot list the folder ({e.strerror or e})") from None

    if label is not None:
        if label not in labels and not is_nothing(label):
            raise PipelineError(f"LABEL={label}: not a label of the model ({', '.join(labels)}), nor a name "
                                "starting with _ (clips that are no word)")
        found = [Clip(p, label, source_of(p)) for p in wavs(data)]
        if not found:
            raise PipelineError(f"{data}: no .wav files directly in the folder (LABEL= names the label of a flat "
                                "folder; without it, give a folder of <label>/*.wav)")
        return found
    folders = [f for f in sorted(data.iterdir()) if f.is_dir() and not f.name.startswith(".")
               and f.name != SPEECH_COMMANDS_NOISE_DIR]
    found = [Clip(p, f.name, source_of(p)) for f in folders for p in wavs(f)]
    if not found:
        flat = len(wavs(data))
        raise PipelineError(f"{data}: no <label>/*.wav files" + (
            f" ({flat} .wav files directly in it: name their label with LABEL=<label>)" if flat else ""))
    unknown = sorted({c.label for c in found} - set(labels) - {c.label for c in found if is_nothing(c.label)})
    if unknown:
        raise PipelineError(f"{data}: labels {unknown} are not known to the model (it knows {labels}; folders "
                            "starting with _ hold clips that are no word)")
    return found


def nonword_features(clips: list[Clip], params: Any, skip_bad: bool) -> tuple[np.ndarray, list[Clip], list[bool],
                                                                                list[str], list[str]]:
    """MFCCs of clips that are no word, the clips they are of, whether each is a tone (:func:`data.features.is_tone`),
    the files the host's speech check refuses (a steady tone, a clip too short for a word: no host surface shows them
    a word) and the bad files skipped."""
    from data.datasets import read_or_skip
    from data.features import check_speech, is_tone, mfcc, read_audio

    feats, ok, tones, not_speech, skipped = [], [], [], [], []
    for clip in clips:
        audio = read_or_skip(clip.path, lambda: read_audio(clip.path, params.sample_rate), skip_bad, skipped)
        if audio is None:
            continue
        try:
            check_speech(clip.path, audio, params.sample_rate)
        except PipelineError:
            not_speech.append(str(clip.path))
            continue
        feats.append(mfcc(audio, params))
        ok.append(clip)
        tones.append(is_tone(audio, params))
    x = np.stack(feats) if feats else np.zeros((0, *params.shape), np.float32)
    return x, ok, tones, not_speech, skipped


def nonword_report(found: dict[str, list[Answer]], clips: list[Clip], not_speech: list[str]) -> dict[str, Any]:
    """How the clips that are no word (label folders starting with ``_``) were answered, per folder and backend:
    ``clips``, ``not_speech`` (refused by the host's speech check before the model), ``tones`` (heard as a tone
    or glide: not a word, whatever the model), each answer, and
    ``rejected`` (every clip that was not shown as a word)."""
    out: dict[str, Any] = {}
    for folder in sorted({c.label for c in clips} | {Path(f).parent.name for f in not_speech}):
        rows = [i for i, c in enumerate(clips) if c.label == folder]
        refused = sum(Path(f).parent.name == folder for f in not_speech)
        total = len(rows) + refused
        out[folder] = {"clips": total, "not_speech": refused,
                       "tones": sum(found["tflm"][i].tone for i in rows)}
        for backend, answers_ in found.items():
            counts = answer_counts([answers_[i] for i in rows])
            out[folder][backend] = {**counts, "rejected": (refused + total - refused - counts[WORD]) / total}
    return out


def evaluate_folder(data: Path, out: Path, build: Path, skip_bad: bool, label: str | None = None) -> dict[str, Any]:
    """``make evaluate``: the built models on a ``<label>/*.wav`` folder (or a flat one with ``label``); writes
    ``out`` (JSON, with every clip's answer) and the report next to it (``out`` with ``.md``). Clips in folders
    starting with ``_`` are no word: the report says how they were answered. ``out`` is checked before any work."""
    check_output_file(out, ".json")
    rt = Runtime.open(build)
    clips = evaluation_clips(data, label, rt.labels)
    words = [c for c in clips if not is_nothing(c.label)]
    nonwords = [c for c in clips if is_nothing(c.label)]  # no speech check: noise is steady, a tone may be too
    windowed = None
    if rt.meta.get("windows"):  # a model of long recordings: every recording cut into the same windows
        from data.windows import extract_windows, window_rows

        x, ok, counts, seconds, skipped = extract_windows(words, rt.params, rt.meta["windows"]["hop_samples"],
                                                          build / "cache" / "windows", skip_bad)
        windowed = window_rows(ok, counts, seconds, rt.labels)
    else:
        x, ok, skipped = extract_clips(words, rt.params, build / "cache" / "features", skip_bad, desc="features")
    x_no, ok_no, tones_no, not_speech, skipped_no = nonword_features(nonwords, rt.params, skip_bad)
    skipped += skipped_no
    if not ok and not ok_no and not not_speech:
        raise PipelineError(f"{data}: no readable clips")
    metrics: dict[str, Any] = {"data": str(data), "labels": rt.labels, "model_hash": rt.meta["model_hash"],
                               "answer_rule": rt.meta["answer"], "skipped": skipped}
    # Accuracy is over the clips of the model's labels: the words, and clips of its own nothing classes.
    own = [i for i, c in enumerate(ok_no) if c.label in rt.labels] if not windowed else []
    labelled = ok + [ok_no[i] for i in own]
    scores = y = None
    extra = ""
    if labelled:
        y = windowed["y"] if windowed else np.array([rt.labels.index(c.label) for c in labelled])
        scores = run_backends(np.concatenate([x, x_no[own]]) if own else x, rt)
        metrics |= compute_metrics(scores, y, rt)
        if windowed:
            metrics["recording"] = recording_metrics({k: rt.probabilities(k, v) for k, v in scores.items()},
                                                     windowed, rt.labels)
            extra = report_section(metrics["recording"], metrics, BACKENDS)
    # Every row that is a whole clip gets its answer: the word clips (not the windows of recordings), then the others.
    every = ([] if windowed else ok) + ok_no
    scores_no = run_backends(x_no, rt) if ok_no else {}
    # The word clips' features come from the cache: their audio is read again for the tone check.
    tones = [file_is_tone(c.path, rt.params) for c in tqdm([] if windowed else ok, desc="tone check", unit="clip",
                                                           leave=False)] + tones_no
    found = {}
    for k in BACKENDS:
        parts = ([scores[k][:len(ok)]] if ok and not windowed else []) + ([scores_no[k]] if ok_no else [])
        found[k] = answers(rt, k, rt.probabilities(k, np.concatenate(parts)), tones) if parts else []
    metrics["answers"] = {k: answer_counts(v) for k, v in found.items()}
    metrics["clips"] = [{"file": str(c.path), "label": c.label, **{k: found[k][i].to_dict() for k in found}}
                        for i, c in enumerate(every)]
    if nonwords:
        metrics["nonwords"] = nonword_report({k: v[len(every) - len(ok_no):] for k, v in found.items()}, ok_no,
                                             not_speech)
    extra += answers_section(metrics)
    if skipped:
        extra += "\n## Skipped files\n\n" + "\n".join(f"- {s}" for s in skipped) + "\n"
    with staged_outputs(out.parent) as stage:
        (stage / out.name).write_text(json.dumps(metrics, indent=1))
        if labelled:
            write_report(stage / out.with_suffix(".md").name, metrics, scores, y, f"Evaluation on {data}", extra)
        else:
            (stage / out.with_suffix(".md").name).write_text(f"# Evaluation on {data}\n" + extra)
    if labelled:
        print(f"{data}: float {metrics['float']['accuracy']:.4f}, int8 {metrics['int8']['accuracy']:.4f}, "
              f"tflm {metrics['tflm']['accuracy']:.4f} on {len(y)} clips" + (
                  f" ({len(ok)} recordings: tflm accuracy {metrics['recording']['accuracy']:.4f} per recording)"
                  if windowed else ""))
    if every:
        print(f"answers (tflm, what the board says): {counts_text(metrics['answers']['tflm'])}")
    for folder, r in metrics.get("nonwords", {}).items():
        print(f"{folder}: {r['clips']} clips that are no word, {100 * r['tflm']['rejected']:.1f} % not shown as a "
              f"word (tflm: {r['not_speech']} not speech, {r['tflm'][NOT_A_WORD]} not a word ({r['tones']} tones), "
              f"{r['tflm'][LOW_CONFIDENCE]} low confidence, {r['tflm'][WORD]} a word)")
    if skipped:
        print(f"skipped {len(skipped)} bad files, listed in {out} and {out.with_suffix('.md')}")
    print(f"wrote {out}, {out.with_suffix('.md')}")
    return metrics


def answers_section(metrics: dict[str, Any]) -> str:
    """The report's answers: counts per backend, and how the clips that are no word were answered."""
    rule = metrics["answer_rule"]
    lines = ["", "## Answers", "",
             f"A clip is shown as a word when its top label does not start with `_` and its probability reaches "
             f"{rule['min_confidence']:g} (int8 score {rule['min_word_score']}), and the front end does not hear a "
             "tone or glide (`data.features.is_tone`, as the board); otherwise as \"not a word\" or "
             "\"low confidence\". Every clip's answer is in the JSON (`clips`).", "",
             "| backend | " + " | ".join(ANSWERS) + " |", "| --- |" + " --- |" * len(ANSWERS)]
    lines += [f"| {k} | " + " | ".join(str(v[a]) for a in ANSWERS) + " |" for k, v in metrics["answers"].items()]
    if "nonwords" in metrics:
        lines += ["", "Clips that are no word (folders starting with `_`), int8 on TFLM (what the board says):", "",
                  "| folder | clips | not speech (host check) | not a word (of them tones) | low confidence | shown as a word | "
                  "rejected |", "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {f} | {r['clips']} | {r['not_speech']} | {r['tflm'][NOT_A_WORD]} ({r['tones']}) | "
                  f"{r['tflm'][LOW_CONFIDENCE]} "
                  f"| {r['tflm'][WORD]} | {100 * r['tflm']['rejected']:.1f} % |"
                  for f, r in metrics["nonwords"].items()]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m host.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, help="folder of <label>/*.wav (any rate, mono or stereo); default: the "
                   "test split")
    p.add_argument("--out", type=Path, default=Path("build/evaluate.json"), help="with --data: the JSON to write")
    p.add_argument("--label", help="with --data: the label of every clip of a flat folder of *.wav files")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files and list them in the report")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    run_main(lambda: evaluate_folder(args.data, args.out, args.build, args.skip_bad, args.label) if args.data
             else evaluate_split(args.build), tensorflow=True)
