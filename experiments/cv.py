"""Leave-one-speaker-out cross-validation on real speech (``make cv``).

    python -m experiments.cv --fsdd-dir D [--seeds N] [--speakers S ...] [--smoke] [--noise-dir D] [--build build]
                       [--float-only] [--curve] [--set SECTION.KEY=VALUE ...]

For every seed and every real FSDD speaker: train on the synthetic training speakers plus the other real speakers
(with their audio-augmented copies), early-stop on the synthetic validation speakers, convert to full int8 and
evaluate float / int8 (LiteRT) / int8 on TFLM on all clips of the held-out speaker. Also trains the default
synthetic-only model per seed and evaluates it on every real speaker. Writes ``build/cv.json`` and ``build/cv.md``;
fold models stay in ``build/cv/``. ``--float-only`` screens a recipe change faster: the float models alone (no
conversion, no synthetic-only model), into ``build/cv_float.json`` / ``build/cv_float.md``. ``--set`` overrides
single values of ``config.toml`` for the run (recorded in the report). ``--curve`` measures how accuracy on an
unseen speaker grows with the number of real training speakers (every subset of the others, 0 to all), into
``build/cv_curve.json`` / ``build/cv_curve.md``.

``--real <folder> ...`` (``make cv REAL="..."``) replaces leave-one-FSDD-speaker-out by folds over every speaker
of several real sources of any layout (``[cv] real_folds``; :func:`assign_folds`), reported per source (FSDD-style,
Speech Commands, other); ``--curve`` then retrains every fold on nested subsets of its real training speakers.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from data.quiet import import_quietly

import_quietly()  # the imports below load TensorFlow: its start-up log lines hidden first (V=1 shows them)

from data.artifacts import FLOAT_FILE
from data.augment_audio import AudioAugmentParams, augmented_features
from data.config import PipelineError, apply_overrides, load_config, positive_int, run_main
from data.datasets import LAYOUT_FSDD, Clip, RealSource, assign_splits, extract_clips, load_fsdd, load_real
from data.features import FeatureParams, apply_norm
from data.prepare import SPLIT_MIN_SPEAKERS, synth_clips
from data.synth import is_synthetic
from host.evaluate import compute_metrics, label_metrics, run_backends
from host.runtime import Runtime
from quantize.build import build_int8
from train.fit import train_model
from train.stage import schedule

ARCH = "bilstm"
# Smoke runs keep this many takes per real speaker and digit (FSDD numbers its takes 0..49).
SMOKE_TAKES = 1
SYNTH_ONLY = "synthetic-only"
# Smoke runs over --real folders keep this many speakers per source (the first by speaker hash).
SMOKE_SPEAKERS_PER_SOURCE = 6
# Kinds of real sources, each reported separately (:func:`source_kind`).
KIND_FSDD, KIND_SPEECH_COMMANDS, KIND_OTHER = "fsdd-style", "speech-commands", "other"
# The learning curve over --real folders: each fold retrained on this many of its real training voices (a fixed
# pseudo-random order of them; the last point is all of them).
CURVE_VOICES = (0, 2, 8, 32)


def _arrays(x: np.ndarray, clips: list[Clip], labels: list[str]) -> dict[str, np.ndarray]:
    """The split format of :func:`data.datasets.load_split` for clips already in memory."""
    index = {lab: i for i, lab in enumerate(labels)}
    return {"x": x, "y": np.array([index[c.label] for c in clips], np.int64),
            "ids": np.array([str(c.path) for c in clips], dtype=str),
            "sources": np.array([c.source for c in clips], dtype=str), "labels": np.array(labels, dtype=str)}


def _take(split: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: (v if k == "labels" else v[mask]) for k, v in split.items()}


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: (a[k] if k == "labels" else np.concatenate([a[k], b[k]])) for k in a}


def build_pool(build: Path, fsdd_dir: Path, config: dict, smoke: bool, noise_dir: Path | None) -> dict[str, dict]:
    """Features of every clip the folds draw from (cached in ``build/cache``).

    Returns
    -------
    dict
        ``synth_train``, ``synth_val``, ``real`` (all real clips) and ``synth_train_aug``, ``real_aug`` (their
        audio-augmented copies; ``ids`` names the original clip), each in the :func:`_arrays` format.
    """
    params = FeatureParams.from_config(config)
    labels = list(config["dataset"]["labels"])
    ds = config["dataset"]
    synth = assign_splits(synth_clips(build, config, smoke), ds["val_percent"], ds["test_percent"])
    real = load_fsdd(fsdd_dir)
    if smoke:
        real = [c for c in real if int(c.path.stem.rsplit("_", 1)[1]) < SMOKE_TAKES]
    aug = AudioAugmentParams.from_config(config, noise_dir)
    cache = build / "cache"
    pool: dict[str, dict] = {}
    for name, clips in (("synth_train", synth["train"]), ("synth_val", synth["val"]), ("real", real)):
        x, ok, _ = extract_clips(clips, params, cache / "features", False, desc=f"features {name}")
        pool[name] = _arrays(x, ok, labels)
        if name != "synth_val":  # validation clips are never augmented
            x_aug, index = augmented_features(ok, params, aug, cache / "augmented", desc=f"augmenting {name}")
            pool[f"{name}_aug"] = _arrays(x_aug, [ok[i] for i in index], labels)
    return pool


def make_fold(pool: dict[str, dict], holdout: list[str],
              train_speakers: list[str] | None = None) -> tuple[dict, dict, dict, dict]:
    """Train / augmented-train / validation / test splits of one fold.

    Parameters
    ----------
    pool : dict
        From :func:`build_pool`.
    holdout : list of str
        Real speakers that form the test split (all real speakers: the synthetic-only model).
    train_speakers : list of str, optional
        Real speakers that train (default: every real speaker not held out); the learning curve over the number
        of real speakers trains on subsets.

    Returns
    -------
    train, train_aug, val, test : dict
        ``train`` = synthetic training speakers + the real training speakers; ``train_aug`` = augmented copies of
        exactly those clips; ``val`` = synthetic validation speakers; ``test`` = the held-out speakers' clips.
    """
    real = pool["real"]
    unknown = sorted(set(holdout) - set(real["sources"].tolist()))
    if unknown or not holdout:
        raise PipelineError(f"cv: held-out speakers {unknown or holdout} have no real clips")
    if train_speakers is None:
        train_speakers = sorted(set(real["sources"].tolist()) - set(holdout))
    out = np.isin(real["sources"], holdout)
    keep, keep_aug = np.isin(real["sources"], train_speakers), np.isin(pool["real_aug"]["sources"], train_speakers)
    test = _take(real, out)
    train = _concat(pool["synth_train"], _take(real, keep))
    train_aug = _concat(pool["synth_train_aug"], _take(pool["real_aug"], keep_aug))
    val = pool["synth_val"]
    leaked = set(test["sources"].tolist()) & (set(train["sources"].tolist()) | set(train_aug["sources"].tolist())
                                              | set(val["sources"].tolist()))
    if leaked or not set(train_aug["ids"].tolist()) <= set(train["ids"].tolist()):
        raise PipelineError(f"cv: fold leaks held-out speakers {sorted(leaked)} or foreign augmented clips")
    return train, train_aug, val, test


def _per_speaker(pred: np.ndarray, test: dict[str, np.ndarray]) -> dict[str, float]:
    """Accuracy of ``pred`` on each speaker of a test split."""
    return {str(s): float(np.mean(pred[test["sources"] == s] == test["y"][test["sources"] == s]))
            for s in sorted(set(test["sources"].tolist()))}


def _fold_name(fold: dict[str, Any]) -> str:
    held = fold["holdout"] if isinstance(fold["holdout"], str) else "all real"
    if not isinstance(fold["holdout"], str) and fold["train_speakers"]:  # a fold of --real
        return (f"seed {fold['seed']} held out {len(fold['holdout'])} real speakers, "
                f"{len(fold['train_speakers'])} real training speakers")
    return f"seed {fold['seed']} held out {held}, real training speakers {'+'.join(fold['train_speakers']) or 'none'}"


def _per_source(pred: np.ndarray, test: dict[str, np.ndarray], groups: dict[str, str]) -> dict[str, dict]:
    """Accuracy and clip count of ``pred`` on the clips of each real source (``groups``: speaker -> source)."""
    source = np.array([groups[str(s)] for s in test["sources"]], dtype=str)
    return {g: {"accuracy": float(np.mean(pred[source == g] == test["y"][source == g])),
                "clips": int(np.sum(source == g))} for g in sorted(set(source.tolist()))}


def run_fold(pool: dict[str, dict], holdout: list[str], config: dict, seed: int, length: tuple[int, int], out: Path,
             features: dict[str, Any], float_only: bool = False,
             train_speakers: list[str] | None = None) -> dict[str, Any]:
    """Train, convert and evaluate one fold; the model files go to ``out``.

    ``train_speakers``: the real speakers that train, as in :func:`make_fold` (default: all not held out). With a
    ``groups`` entry in ``pool`` (speaker -> real source, ``--real``), accuracy per source too (``*_per_source``).

    Returns
    -------
    dict
        ``holdout``, ``train_speakers``, ``seed``, ``epochs``, ``val_accuracy``, the
        :func:`host.evaluate.compute_metrics` summary (accuracy per backend, agreement, sizes) and, for several
        held-out speakers, TFLM accuracy per speaker. ``float_only``: the float model alone is evaluated (no int8
        conversion, nothing written to ``out``; ``float_per_speaker`` for several held-out speakers).
    """
    train, train_aug, val, test = make_fold(pool, holdout, train_speakers)
    model, norm, history = train_model(train, val, config, seed, length[0], None, ARCH, verbose=0,
                                      train_aug=train_aug, min_updates=length[1])
    result = {"holdout": holdout if len(holdout) > 1 else holdout[0],
              "train_speakers": sorted({str(s) for s in train["sources"] if not is_synthetic(str(s))}),
              "seed": seed, "epochs": len(history["loss"]),
              "val_accuracy": float(max(history["val_accuracy"])),
              "n_clips": int(len(test["y"])),
              "train_clips": {"synthetic": int(sum(is_synthetic(s) for s in train["sources"])),
                              "real": int(sum(not is_synthetic(s) for s in train["sources"])),
                              "augmented": int(len(train_aug["y"]))},
              "params": int(model.count_params())}
    if float_only:
        pred = model.predict(apply_norm(test["x"], norm), verbose=0).argmax(1)
        result["float"] = label_metrics(test["y"], pred, len(test["labels"]))
        if len(holdout) > 1:
            result["float_per_speaker"] = _per_speaker(pred, test)
        if "groups" in pool:
            result["float_per_source"] = _per_source(pred, test, pool["groups"])
        print(f"  {_fold_name(result)}: float {result['float']['accuracy']:.4f} ({result['epochs']} epochs)",
              flush=True)
        return result
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / FLOAT_FILE)
    _, meta = build_int8(out, model, ARCH, norm, train, features, "fsdd+synth (cv fold)", config)
    rt = Runtime.open(out, warn=False)
    scores = run_backends(test["x"], rt)
    m = compute_metrics(scores, test["y"], rt)
    pred = scores["tflm"].argmax(1)
    result.update({k: {"accuracy": m[k]["accuracy"], "macro_f1": m[k]["macro_f1"]} for k in ("float", "int8", "tflm")})
    result["tflm"]["confusion"] = m["tflm"]["confusion"]
    result.update({"agreement": m["agreement"], "model_bytes": m["model_bytes"], "arena_bytes": m["arena_bytes"],
                   "ops": meta["ops"]})
    if len(holdout) > 1:
        result["tflm_per_speaker"] = _per_speaker(pred, test)
    if "groups" in pool:
        result["tflm_per_source"] = _per_source(pred, test, pool["groups"])
    print(f"  {_fold_name(result)}: float {result['float']['accuracy']:.4f} int8 {result['int8']['accuracy']:.4f} tflm "
          f"{result['tflm']['accuracy']:.4f} ({result['epochs']} epochs)", flush=True)
    return result


def top_confusions(folds: list[dict], backend: str, labels: list[str], k: int = 3) -> dict[str, list[list]]:
    """The ``k`` most frequent errors per held-out speaker, summed over seeds.

    Returns
    -------
    dict
        Speaker -> ``[[true label, predicted label, clips], ...]``, most frequent first; speakers without errors
        get an empty list.
    """
    out = {}
    for sp in sorted({f["holdout"] for f in folds}):
        c = np.sum([f[backend]["confusion"] for f in folds if f["holdout"] == sp], axis=0)
        np.fill_diagonal(c, 0)
        order = np.argsort(-c, axis=None, kind="stable")[:k]
        out[sp] = [[labels[i], labels[j], int(c[i, j])] for i, j in zip(*np.unravel_index(order, c.shape))
                   if c[i, j] > 0]
    return out


def _confusion_lines(confusions: dict[str, list[list]], backend: str) -> list[str]:
    lines = ["", f"## Most frequent errors per held-out speaker ({backend}, clips summed over seeds)", "",
             "| held-out speaker | true → predicted (clips) |", "| --- | --- |"]
    return lines + [f"| {sp} | {', '.join(f'{t} → {p} ({n})' for t, p, n in top) or 'none'} |"
                    for sp, top in confusions.items()]


def _stats(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "min": float(np.min(values)),
            "max": float(np.max(values))}


def summarize(folds: list[dict], synth_only: list[dict], limits: dict[str, float],
              labels: list[str]) -> dict[str, Any]:
    """Means/minima over every (seed, speaker) fold, per speaker, the most frequent errors per speaker and the
    pass/fail of each target in ``limits``."""
    acc = {k: [f[k]["accuracy"] for f in folds] for k in ("float", "int8", "tflm")}
    drop = [f["float"]["accuracy"] - f["tflm"]["accuracy"] for f in folds]
    agree = [f["agreement"]["float_tflm"] for f in folds]
    speakers = sorted({f["holdout"] for f in folds})
    per_seed_means = [float(np.mean([f["tflm"]["accuracy"] for f in folds if f["seed"] == s]))
                      for s in sorted({f["seed"] for f in folds})]
    s = {"folds": len(folds), **{k: _stats(v) for k, v in acc.items()},
         "tflm_per_speaker": {sp: _stats([f["tflm"]["accuracy"] for f in folds if f["holdout"] == sp])
                              for sp in speakers},
         "tflm_mean_per_seed": _stats(per_seed_means),
         "accuracy_drop_float_tflm": _stats(drop), "agreement_float_tflm": _stats(agree),
         "model_bytes": max(f["model_bytes"] for f in folds), "arena_bytes": max(f["arena_bytes"] for f in folds),
         "synthetic_only_tflm_on_real": _stats([f["tflm"]["accuracy"] for f in synth_only]),
         "tflm_top_confusions": top_confusions(folds, "tflm", labels)}
    s["checks"] = {"mean_tflm_accuracy": s["tflm"]["mean"] >= limits["min_mean_accuracy"],
                   "min_fold_tflm_accuracy": s["tflm"]["min"] >= limits["min_fold_accuracy"],
                   "model_bytes": s["model_bytes"] <= limits["max_model_bytes"],
                   "arena_bytes": s["arena_bytes"] <= limits["max_arena_bytes"],
                   "agreement_float_tflm": s["agreement_float_tflm"]["mean"] >= limits["min_agreement"],
                   "accuracy_drop_float_tflm": s["accuracy_drop_float_tflm"]["mean"] <= limits["max_accuracy_drop"]}
    s["passed"] = all(s["checks"].values())
    return s


def _overrides(report: dict[str, Any]) -> str:
    return ", ".join(report["overrides"]) or "none"


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    """``build/cv.md``: every fold, the summary and the synthetic-only baseline."""
    s, lim = report["summary"], report["limits"]
    lines = ["# Leave-one-speaker-out on real speech (FSDD)", "",
             f"Train: {report['protocol']}. Seeds {report['seeds']}; {report['epochs']} epochs, more where "
             f"needed for {report['min_updates']} updates; "
             f"smoke: {report['smoke']}; overrides of config.toml: {_overrides(report)}.", "",
             "| seed | held-out speaker | clips | float | int8 (LiteRT) | int8 on TFLM | agreement float/TFLM | "
             "epochs |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for f in report["folds"]:
        lines.append(f"| {f['seed']} | {f['holdout']} | {f['n_clips']} | {f['float']['accuracy']:.4f} | "
                     f"{f['int8']['accuracy']:.4f} | {f['tflm']['accuracy']:.4f} | "
                     f"{f['agreement']['float_tflm']:.4f} | {f['epochs']} |")
    lines += ["", "| summary over all folds | mean | std | worst |", "| --- | --- | --- | --- |"]
    for k, name in (("float", "float"), ("int8", "int8 (LiteRT)"), ("tflm", "int8 on TFLM")):
        lines.append(f"| {name} accuracy | {s[k]['mean']:.4f} | {s[k]['std']:.4f} | {s[k]['min']:.4f} |")
    for sp, st in s["tflm_per_speaker"].items():
        lines.append(f"| TFLM accuracy, {sp} held out | {st['mean']:.4f} | {st['std']:.4f} | {st['min']:.4f} |")
    t = s["tflm_mean_per_seed"]
    lines += [f"| TFLM mean accuracy per seed | {t['mean']:.4f} | {t['std']:.4f} | {t['min']:.4f} |",
              f"| accuracy drop float - TFLM | {s['accuracy_drop_float_tflm']['mean']:.4f} | "
              f"{s['accuracy_drop_float_tflm']['std']:.4f} | {s['accuracy_drop_float_tflm']['max']:.4f} |",
              f"| top-1 agreement float/TFLM | {s['agreement_float_tflm']['mean']:.4f} | "
              f"{s['agreement_float_tflm']['std']:.4f} | {s['agreement_float_tflm']['min']:.4f} |", "",
              f"int8 model {s['model_bytes']} bytes (limit {lim['max_model_bytes']}), measured arena "
              f"{s['arena_bytes']} bytes (limit {lim['max_arena_bytes']}).", "",
              "## Synthetic-only model on every real speaker", "",
              "| seed | float | int8 on TFLM | " + " | ".join(f"TFLM {sp}" for sp in report["speakers"]) + " |",
              "| --- | --- | --- | " + " | ".join("---" for _ in report["speakers"]) + " |"]
    for f in report["synthetic_only"]:
        lines.append(f"| {f['seed']} | {f['float']['accuracy']:.4f} | {f['tflm']['accuracy']:.4f} | "
                     + " | ".join(f"{f['tflm_per_speaker'][sp]:.4f}" for sp in report["speakers"]) + " |")
    lines += _confusion_lines(s["tflm_top_confusions"], "int8 on TFLM")
    lines += ["", "## Targets (agreement and drop: mean over folds)", "", "| check | passed |", "| --- | --- |"]
    lines += [f"| {k} | {'yes' if v else 'NO'} |" for k, v in s["checks"].items()]
    path.write_text("\n".join(lines) + "\n")


def summarize_float(folds: list[dict], labels: list[str]) -> dict[str, Any]:
    """Float accuracy over every (seed, speaker) fold, per speaker and per seed, and the most frequent errors per
    speaker: the screening summary."""
    acc = [f["float"]["accuracy"] for f in folds]
    return {"folds": len(folds), "float": _stats(acc),
            "float_per_speaker": {sp: _stats([f["float"]["accuracy"] for f in folds if f["holdout"] == sp])
                                  for sp in sorted({f["holdout"] for f in folds})},
            "float_mean_per_seed": _stats([float(np.mean([f["float"]["accuracy"] for f in folds if f["seed"] == s]))
                                           for s in sorted({f["seed"] for f in folds})]),
            "float_top_confusions": top_confusions(folds, "float", labels)}


def write_markdown_float(path: Path, report: dict[str, Any]) -> None:
    """``build/cv_float.md``: every fold and the summary of a float-only screening run."""
    s = report["summary"]
    lines = ["# Leave-one-speaker-out on real speech (FSDD), float model only (screening)", "",
             f"Train: {report['protocol']}. Seeds {report['seeds']}; overrides of config.toml: "
             f"{_overrides(report)}. No int8 conversion: `make cv` without FLOAT_ONLY measures "
             f"the targets.", "",
             "| seed | held-out speaker | clips | float | epochs |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {f['seed']} | {f['holdout']} | {f['n_clips']} | {f['float']['accuracy']:.4f} | {f['epochs']} |"
              for f in report["folds"]]
    lines += ["", "| summary | mean | std | worst |", "| --- | --- | --- | --- |",
              f"| float accuracy, all folds | {s['float']['mean']:.4f} | {s['float']['std']:.4f} | "
              f"{s['float']['min']:.4f} |"]
    lines += [f"| float accuracy, {sp} held out | {st['mean']:.4f} | {st['std']:.4f} | {st['min']:.4f} |"
              for sp, st in s["float_per_speaker"].items()]
    t = s["float_mean_per_seed"]
    lines.append(f"| float mean accuracy per seed | {t['mean']:.4f} | {t['std']:.4f} | {t['min']:.4f} |")
    lines += _confusion_lines(s["float_top_confusions"], "float")
    path.write_text("\n".join(lines) + "\n")


def curve_folds(pool: dict[str, dict], speakers: list[str], held_out: list[str], config: dict, seed: int,
                length: tuple[int, int], build: Path, features: dict[str, Any],
                float_only: bool) -> list[dict[str, Any]]:
    """One seed of the learning curve over the number of real training speakers.

    The synthetic-only model (0 real speakers) is trained once and tested on every held-out speaker; then each
    held-out speaker is tested after training on every subset of 1, 2, ... of the other real speakers.

    Returns
    -------
    list of dict
        One entry per (subset, held-out speaker): ``real_speakers`` (subset size), ``seed``, ``holdout``,
        ``train_speakers``, ``accuracy`` (TFLM, or float with ``float_only``).
    """
    backend = "float" if float_only else "tflm"
    synth = run_fold(pool, speakers, config, seed, length, build / "cv" / f"curve-synth-only-s{seed}", features,
                     float_only, [])
    entries = [{"real_speakers": 0, "seed": seed, "holdout": sp, "train_speakers": [],
                "accuracy": synth[f"{backend}_per_speaker"][sp]} for sp in held_out]
    for sp in held_out:
        others = [o for o in speakers if o != sp]
        for subset in [list(c) for k in range(1, len(others) + 1) for c in combinations(others, k)]:
            out = build / "cv" / f"curve-{sp}-{'+'.join(subset)}-s{seed}"
            f = run_fold(pool, [sp], config, seed, length, out, features, float_only, subset)
            entries.append({"real_speakers": len(subset), "seed": seed, "holdout": sp, "train_speakers": subset,
                            "accuracy": f[backend]["accuracy"]})
    return entries


def summarize_curve(entries: list[dict[str, Any]], target: float) -> dict[str, Any]:
    """Accuracy against the number of real training speakers, and how many speakers the target would take if the
    error kept falling at the measured rate.

    Parameters
    ----------
    entries : list of dict
        From :func:`curve_folds`.
    target : float
        The mean accuracy to reach (``[cv] min_mean_accuracy``).

    Returns
    -------
    dict
        ``points``: per number of real training speakers, the mean accuracy per held-out speaker (over subsets and
        seeds), their ``mean``, the ``worst`` single test and the number of ``tests`` (model x held-out speaker).
        ``error_ratio``: the factor by which each added real speaker multiplies the error (a least-squares line
        through log(1 - mean)); ``speakers_for_target``: where that line reaches ``1 - target`` (``None`` when the
        error does not fall). Both are an extrapolation, not a measurement.
    """
    points = []
    for k in sorted({e["real_speakers"] for e in entries}):
        at_k = [e for e in entries if e["real_speakers"] == k]
        per = {sp: float(np.mean([e["accuracy"] for e in at_k if e["holdout"] == sp]))
               for sp in sorted({e["holdout"] for e in at_k})}
        points.append({"real_speakers": k, "per_speaker": per, "mean": float(np.mean(list(per.values()))),
                       "worst": float(min(e["accuracy"] for e in at_k)), "tests": len(at_k)})
    out: dict[str, Any] = {"points": points, "error_ratio": None, "speakers_for_target": None}
    errors = np.array([1.0 - p["mean"] for p in points])
    if len(points) >= 2 and np.all(errors > 0):
        slope, offset = np.polyfit([p["real_speakers"] for p in points], np.log(errors), 1)
        out["error_ratio"] = float(np.exp(slope))
        if slope < 0:
            out["speakers_for_target"] = int(np.ceil((np.log(1.0 - target) - offset) / slope))
    return out


def write_markdown_curve(path: Path, report: dict[str, Any]) -> None:
    """``build/cv_curve.md``: accuracy against the number of real training speakers, and every test."""
    s, speakers = report["summary"], report["held_out"]
    lines = ["# Learning curve over the number of real training speakers (FSDD)", "",
             f"Each held-out speaker is tested after training on the synthetic set plus every subset of the other "
             f"real speakers; accuracy of the {report['backend']} model. Seeds {report['seeds']}; overrides of "
             f"config.toml: {_overrides(report)}.", "",
             "| real training speakers | " + " | ".join(speakers) + " | mean | worst test | tests |",
             "| --- | " + " | ".join("---" for _ in speakers) + " | --- | --- | --- |"]
    lines += [f"| {p['real_speakers']} | " + " | ".join(f"{p['per_speaker'][sp]:.4f}" for sp in speakers)
              + f" | {p['mean']:.4f} | {p['worst']:.4f} | {p['tests']} |" for p in s["points"]]
    if s["error_ratio"] is not None:
        lines += ["", f"Each added real speaker multiplied the error by {s['error_ratio']:.3f} on average (a line "
                  f"through log(1 - mean)). At that rate a mean of {report['target']:.2f} would take "
                  + (f"{s['speakers_for_target']} real training speakers" if s["speakers_for_target"] is not None
                     else "more speakers than any rate measured here")
                  + ": an extrapolation, not a measurement."]
    lines += ["", "| real training speakers | seed | held-out speaker | trained with | accuracy |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {e['real_speakers']} | {e['seed']} | {e['holdout']} | {'+'.join(e['train_speakers']) or 'none'} | "
              f"{e['accuracy']:.4f} |" for e in report["entries"]]
    path.write_text("\n".join(lines) + "\n")


def main(args: argparse.Namespace) -> dict[str, Any]:
    config = apply_overrides(load_config(), args.set)
    limits = config["cv"]
    length = schedule(config, args.smoke)
    if args.real:
        seed0 = int(config["train"]["seed"])
        return run_real(args, config, length, list(range(seed0, seed0 + args.seeds)))
    pool = build_pool(args.build, args.fsdd_dir, config, args.smoke, args.noise_dir)
    speakers = sorted(set(pool["real"]["sources"].tolist()))
    if len(speakers) < 2:
        raise PipelineError(f"{args.fsdd_dir}: leave-one-speaker-out needs >= 2 real speakers, found {speakers}")
    unknown = sorted(set(args.speakers or []) - set(speakers))
    if unknown:
        raise PipelineError(f"--speakers: no real clips of {unknown} (speakers: {speakers})")
    held_out = sorted(args.speakers) if args.speakers else speakers
    features = FeatureParams.from_config(config).to_dict()
    seed0 = int(config["train"]["seed"])
    seeds = list(range(seed0, seed0 + args.seeds))
    if args.curve:
        return run_curve(args, config, pool, speakers, held_out, features, length, seeds)
    labels = [str(lab) for lab in pool["real"]["labels"]]
    folds, synth_only = [], []
    for seed in seeds:
        if not args.float_only:
            print(f"seed {seed}: synthetic-only model, then {len(held_out)} folds", flush=True)
            synth_only.append(run_fold(pool, speakers, config, seed, length,
                                       args.build / "cv" / f"synth-only-s{seed}", features))
        for sp in held_out:
            folds.append(run_fold(pool, [sp], config, seed, length, args.build / "cv" / f"{sp}-s{seed}", features,
                                  args.float_only))
    report = {"protocol": "synthetic training speakers + all real FSDD speakers but one (with audio-augmented "
                          "copies, real clips oversampled); early stopping on synthetic validation speakers; test = "
                          "every clip of the held-out real speaker",
              "fsdd_dir": str(args.fsdd_dir), "speakers": speakers, "seeds": seeds,
              "epochs": length[0], "min_updates": length[1], "smoke": args.smoke, "model_config": config["model"],
              "normalization": config["normalization"], "augment_audio": config.get("augment_audio", {}),
              "overrides": args.set, "limits": limits, "folds": folds}
    args.build.mkdir(parents=True, exist_ok=True)
    if args.float_only:
        report["summary"] = summarize_float(folds, labels)
        (args.build / "cv_float.json").write_text(json.dumps(report, indent=1))
        write_markdown_float(args.build / "cv_float.md", report)
        s = report["summary"]["float"]
        print(f"cv (float only): accuracy mean {s['mean']:.4f} ± {s['std']:.4f}, min {s['min']:.4f} over "
              f"{len(folds)} folds -> {args.build / 'cv_float.md'}")
        return report
    report.update({"synthetic_only": synth_only, "summary": summarize(folds, synth_only, limits, labels)})
    (args.build / "cv.json").write_text(json.dumps(report, indent=1))
    write_markdown(args.build / "cv.md", report)
    s = report["summary"]
    print(f"cv: TFLM accuracy mean {s['tflm']['mean']:.4f} ± {s['tflm']['std']:.4f}, min {s['tflm']['min']:.4f} "
          f"over {s['folds']} folds; synthetic-only on real speech {s['synthetic_only_tflm_on_real']['mean']:.4f}; "
          f"model {s['model_bytes']} B, arena {s['arena_bytes']} B; targets {'met' if s['passed'] else 'NOT met'} "
          f"-> {args.build / 'cv.md'}")
    return report


def run_curve(args: argparse.Namespace, config: dict, pool: dict[str, dict], speakers: list[str],
              held_out: list[str], features: dict[str, Any], length: tuple[int, int],
              seeds: list[int]) -> dict[str, Any]:
    """``--curve``: :func:`curve_folds` for every seed, into ``build/cv_curve.json`` and ``build/cv_curve.md``."""
    entries = [e for seed in seeds for e in curve_folds(pool, speakers, held_out, config, seed, length, args.build,
                                                        features, args.float_only)]
    target = float(config["cv"]["min_mean_accuracy"])
    report = {"fsdd_dir": str(args.fsdd_dir), "speakers": speakers, "held_out": held_out, "seeds": seeds,
              "backend": "float" if args.float_only else "int8 on TFLM", "smoke": args.smoke,
              "overrides": args.set, "target": target, "entries": entries,
              "summary": summarize_curve(entries, target)}
    args.build.mkdir(parents=True, exist_ok=True)
    (args.build / "cv_curve.json").write_text(json.dumps(report, indent=1))
    write_markdown_curve(args.build / "cv_curve.md", report)
    print("cv curve: mean accuracy with " + ", ".join(f"{p['real_speakers']} real speakers {p['mean']:.4f}"
                                                      for p in report["summary"]["points"])
          + f" -> {args.build / 'cv_curve.md'}")
    return report


# ---- make cv REAL="<folder> ...": folds over every real speaker of several sources ----

def source_kind(src: RealSource) -> str:
    """How a real source is reported: FSDD-style (its layout), Speech Commands (many speakers), or other."""
    if src.layout == LAYOUT_FSDD:
        return KIND_FSDD
    return KIND_SPEECH_COMMANDS if len({c.source for c in src.clips}) >= SPLIT_MIN_SPEAKERS else KIND_OTHER


def _hash(text: str) -> int:
    import hashlib

    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def smoke_real(clips: list[Clip]) -> list[Clip]:
    """Smoke-sized clips of a real source: the first ``SMOKE_SPEAKERS_PER_SOURCE`` speakers by hash, one take per
    speaker and word."""
    keep = set(sorted({c.source for c in clips}, key=_hash)[:SMOKE_SPEAKERS_PER_SOURCE])
    seen: set[tuple[str, str]] = set()
    out = []
    for c in sorted(clips, key=lambda c: str(c.path)):
        if c.source in keep and (c.source, c.label) not in seen:
            seen.add((c.source, c.label))
            out.append(c)
    return out


def assign_folds(speakers: dict[str, list[str]], folds: int) -> dict[str, int]:
    """Fold of every real speaker.

    Parameters
    ----------
    speakers : dict
        Source name -> its speakers.
    folds : int
        ``[cv] real_folds``.

    Returns
    -------
    dict
        Speaker -> fold (0..folds-1): a source with at most ``folds`` speakers gives each its own fold (in sorted
        order), a larger one spreads its speakers by a hash of their id (stable when data is added).
    """
    if folds < 2:
        raise PipelineError(f"config.toml [cv]: real_folds must be >= 2, got {folds}")
    out: dict[str, int] = {}
    for _, names in sorted(speakers.items()):
        names = sorted(names)
        for i, sp in enumerate(names):
            out[sp] = i if len(names) <= folds else _hash(sp) % folds
    return out


def build_real_pool(build: Path, real_dirs: list[Path], config: dict, smoke: bool,
                    noise_dir: Path | None) -> tuple[dict[str, dict], list[dict[str, Any]]]:
    """:func:`build_pool` over ``--real`` folders: ``real`` holds every clip of every source, ``groups`` maps each
    speaker to its source's name; a source's ``_background_noise_`` is the augmentation's noise unless
    ``noise_dir`` is given.

    Returns
    -------
    pool : dict
    sources : list of dict
        ``name``, ``root``, ``layout``, ``kind``, ``speakers`` (sorted), ``clips``.
    """
    params = FeatureParams.from_config(config)
    labels = list(config["dataset"]["labels"])
    ds = config["dataset"]
    loaded = load_real(real_dirs, labels)
    names = [src.name for src in loaded]
    if len(set(names)) != len(names):
        raise PipelineError(f"--real: two source folders share a name ({names}); reports name sources by folder")
    synth = assign_splits(synth_clips(build, config, smoke), ds["val_percent"], ds["test_percent"])
    real, sources, groups = [], [], {}
    for src in loaded:
        clips = smoke_real(src.clips) if smoke else src.clips
        real += clips
        speakers = sorted({c.source for c in clips})
        groups.update({sp: src.name for sp in speakers})
        sources.append({"name": src.name, "root": str(src.root), "layout": src.layout, "kind": source_kind(src),
                        "speakers": speakers, "clips": len(clips)})
    noise = noise_dir or next((src.noise_dir for src in loaded if src.noise_dir), None)
    aug = AudioAugmentParams.from_config(config, noise)
    cache = build / "cache"
    pool: dict[str, Any] = {"groups": groups}
    for name, clips in (("synth_train", synth["train"]), ("synth_val", synth["val"]), ("real", real)):
        x, ok, _ = extract_clips(clips, params, cache / "features", False, desc=f"features {name}")
        pool[name] = _arrays(x, ok, labels)
        if name != "synth_val":
            x_aug, index = augmented_features(ok, params, aug, cache / "augmented", desc=f"augmenting {name}")
            pool[f"{name}_aug"] = _arrays(x_aug, [ok[i] for i in index], labels)
    return pool, sources


def summarize_real(folds: list[dict], synth_only: list[dict], sources: list[dict], limits: dict[str, Any],
                   backend: str) -> dict[str, Any]:
    """Per real source: accuracy over every (seed, fold) that held out some of its speakers (mean, worst), the
    mean per seed, and its clips pooled over the folds of a seed; the targets by source kind; sizes and agreement.

    Parameters
    ----------
    folds : list of dict
        From :func:`run_fold` with ``<backend>_per_source``.
    synth_only : list of dict
        The synthetic-only model per seed (may be empty), tested on every real clip.
    sources : list of dict
        From :func:`build_real_pool`.
    limits : dict
        ``config.toml [cv]``.
    backend : str
        ``tflm`` or ``float``.
    """
    key = f"{backend}_per_source"
    per_source: dict[str, Any] = {}
    for src in sources:
        name = src["name"]
        hits = [f for f in folds if name in f[key]]
        if not hits:
            continue
        seeds = sorted({f["seed"] for f in hits})
        pooled = [sum(f[key][name]["accuracy"] * f[key][name]["clips"] for f in hits if f["seed"] == s)
                  / sum(f[key][name]["clips"] for f in hits if f["seed"] == s) for s in seeds]
        per_source[name] = {"kind": src["kind"], "speakers": len(src["speakers"]),
                            "folds": _stats([f[key][name]["accuracy"] for f in hits]),
                            "mean_per_seed": _stats([float(np.mean([f[key][name]["accuracy"] for f in hits
                                                                     if f["seed"] == s])) for s in seeds]),
                            "pooled_clips_per_seed": _stats(pooled),
                            "synthetic_only": (_stats([f[key][name]["accuracy"] for f in synth_only])
                                               if synth_only else None)}
    s: dict[str, Any] = {"folds": len(folds), "backend": backend, "per_source": per_source}
    checks: dict[str, bool] = {}
    for name, st in per_source.items():
        if st["kind"] == KIND_FSDD:
            checks[f"{name}: mean accuracy"] = st["folds"]["mean"] >= limits["min_mean_accuracy"]
            checks[f"{name}: worst fold"] = st["folds"]["min"] >= limits["min_fold_accuracy"]
        elif st["kind"] == KIND_SPEECH_COMMANDS:
            checks[f"{name}: mean accuracy"] = st["folds"]["mean"] >= limits["min_speech_commands_accuracy"]
    if backend == "tflm":
        s["model_bytes"] = max(f["model_bytes"] for f in folds)
        s["arena_bytes"] = max(f["arena_bytes"] for f in folds)
        s["agreement_float_tflm"] = _stats([f["agreement"]["float_tflm"] for f in folds])
        s["accuracy_drop_float_tflm"] = _stats([f["float"]["accuracy"] - f["tflm"]["accuracy"] for f in folds])
        checks.update({"model_bytes": s["model_bytes"] <= limits["max_model_bytes"],
                       "arena_bytes": s["arena_bytes"] <= limits["max_arena_bytes"],
                       "agreement_float_tflm": s["agreement_float_tflm"]["mean"] >= limits["min_agreement"],
                       "accuracy_drop_float_tflm": s["accuracy_drop_float_tflm"]["mean"]
                       <= limits["max_accuracy_drop"]})
    s["checks"] = checks
    s["passed"] = all(checks.values())
    return s


def write_markdown_real(path: Path, report: dict[str, Any]) -> None:
    """``build/cv.md`` (or ``cv_float.md``) of ``make cv REAL=...``: folds, the per-source summary, the targets."""
    s, b = report["summary"], report["summary"]["backend"]
    names = [src["name"] for src in report["sources"]]
    lines = [f"# Speaker-independent folds over every real speaker ({'int8 on TFLM' if b == 'tflm' else 'float'})",
             "", f"Train: {report['protocol']}. Seeds {report['seeds']}; {report['folds_per_seed']} folds per seed; "
             f"overrides of config.toml: {_overrides(report)}; smoke: {report['smoke']}."
             + ("" if report["complete"] else f" **Partial: {len(report['folds'])} folds and "
                f"{len(report['synthetic_only'])} synthetic-only models finished so far.**"), "",
             "| source | kind | speakers | clips | layout |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {src['name']} | {src['kind']} | {len(src['speakers'])} | {src['clips']} | {src['layout']} |"
              for src in report["sources"]]
    lines += ["", "| seed | fold | held-out speakers | real training speakers | "
              + " | ".join(f"{n} ({b})" for n in names) + " | epochs |",
              "| --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " | --- |"]
    for f in report["folds"]:
        cells = [f"{f[f'{b}_per_source'][n]['accuracy']:.4f} ({f[f'{b}_per_source'][n]['clips']})"
                 if n in f[f"{b}_per_source"] else "-" for n in names]
        lines.append(f"| {f['seed']} | {f['fold']} | {len(f['holdout'])} | {len(f['train_speakers'])} | "
                     + " | ".join(cells) + f" | {f['epochs']} |")
    lines += ["", "| source (clips in parentheses above) | kind | mean over folds | worst fold | mean per seed (std) | "
              "all held-out clips per seed | synthetic-only model |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for n, st in s["per_source"].items():
        synth = f"{st['synthetic_only']['mean']:.4f}" if st["synthetic_only"] else "-"
        lines.append(f"| {n} | {st['kind']} | {st['folds']['mean']:.4f} | {st['folds']['min']:.4f} | "
                     f"{st['mean_per_seed']['mean']:.4f} ({st['mean_per_seed']['std']:.4f}) | "
                     f"{st['pooled_clips_per_seed']['mean']:.4f} | {synth} |")
    if b == "tflm":
        lines += ["", f"int8 model {s['model_bytes']} bytes (limit {report['limits']['max_model_bytes']}), measured "
                  f"arena {s['arena_bytes']} bytes (limit {report['limits']['max_arena_bytes']}); top-1 agreement "
                  f"float/TFLM {s['agreement_float_tflm']['mean']:.4f} (worst fold "
                  f"{s['agreement_float_tflm']['min']:.4f}); accuracy drop float - TFLM "
                  f"{s['accuracy_drop_float_tflm']['mean']:.4f} (largest {s['accuracy_drop_float_tflm']['max']:.4f})."]
    lines += ["", "## Targets", "", "| check | passed |", "| --- | --- |"]
    lines += [f"| {k} | {'yes' if v else 'NO'} |" for k, v in s["checks"].items()]
    path.write_text("\n".join(lines) + "\n")


def real_protocol(folds: int) -> str:
    return (f"synthetic training speakers + the real speakers of the other folds (with audio-augmented copies, real "
            f"clips oversampled, a speaker's word capped at [train] real_clips_per_word); early stopping on "
            f"synthetic validation speakers; {folds} folds over every real speaker: a small source's speakers one "
            f"per fold, a large source's by speaker hash; test = every clip of the fold's held-out speakers")


def run_real(args: argparse.Namespace, config: dict, length: tuple[int, int], seeds: list[int]) -> dict[str, Any]:
    """``--real``: every seed trains the synthetic-only model (not with ``--float-only``) and one model per fold,
    tested per source; ``--curve`` the learning curve instead (:func:`run_real_curve`)."""
    pool, sources = build_real_pool(args.build, args.real, config, args.smoke, args.noise_dir)
    nfolds = int(config["cv"]["real_folds"])
    fold_of = assign_folds({src["name"]: src["speakers"] for src in sources}, nfolds)
    speakers = sorted(fold_of)
    features = FeatureParams.from_config(config).to_dict()
    if args.curve:
        return run_real_curve(args, config, pool, sources, fold_of, features, length, seeds)
    folds: list[dict] = []
    synth_only: list[dict] = []
    backend = "float" if args.float_only else "tflm"
    stem = "cv_float" if args.float_only else "cv"
    args.build.mkdir(parents=True, exist_ok=True)

    def write(done: bool) -> dict[str, Any]:
        # Written after every model, so an interrupted run (hours for several seeds) keeps its finished folds.
        report = {"protocol": real_protocol(nfolds), "real_dirs": [str(d) for d in args.real], "sources": sources,
                  "fold_of": fold_of, "folds_per_seed": nfolds, "seeds": seeds, "complete": done,
                  "epochs": length[0], "min_updates": length[1], "smoke": args.smoke, "model_config": config["model"],
                  "train": config["train"], "overrides": args.set, "limits": config["cv"], "folds": folds,
                  "synthetic_only": synth_only,
                  "summary": summarize_real(folds, synth_only, sources, config["cv"], backend)}
        (args.build / f"{stem}.json").write_text(json.dumps(report, indent=1))
        write_markdown_real(args.build / f"{stem}.md", report)
        return report

    for seed in seeds:
        print(f"seed {seed}: {nfolds} folds" + ("" if args.float_only else ", then the synthetic-only model"),
              flush=True)
        for k in range(nfolds):
            held = [sp for sp in speakers if fold_of[sp] == k]
            if not held:
                continue
            f = run_fold(pool, held, config, seed, length, args.build / "cv" / f"fold{k}-s{seed}", features,
                         args.float_only)
            f.update({"fold": k, "holdout": held})
            folds.append(f)
            write(False)
        if not args.float_only:
            synth_only.append(run_fold(pool, speakers, config, seed, length, args.build / "cv" / f"synth-only-s{seed}",
                                       features))
            write(False)
    report = write(True)
    s = report["summary"]
    print(f"cv ({backend}): " + ", ".join(f"{n} mean {st['folds']['mean']:.4f} worst fold {st['folds']['min']:.4f}"
                                         for n, st in s["per_source"].items())
          + f"; targets {'met' if s['passed'] else 'NOT met'} -> {args.build / (stem + '.md')}")
    return report


def curve_subsets(train_speakers: list[str], voices: tuple[int, ...] = CURVE_VOICES) -> list[list[str]]:
    """Nested subsets of a fold's real training speakers, one per point of the learning curve: the first ``k`` in
    a fixed pseudo-random order (speaker hash) for every ``k`` of ``voices`` below their number, then all."""
    order = sorted(train_speakers, key=_hash)
    return [order[:k] for k in voices if k < len(order)] + [order]


def _curve_point_label(point: dict[str, Any]) -> str:
    """A learning-curve point's first column: its number of voices, or "all (99-110)" for every fold's own."""
    if point["point"] != "all":
        return str(point["real_speakers"])
    sizes = point["real_speakers"] if isinstance(point["real_speakers"], list) else [point["real_speakers"]]
    return f"all ({sizes[0]}-{sizes[-1]})" if len(sizes) > 1 else f"all ({sizes[0]})"


def run_real_curve(args: argparse.Namespace, config: dict, pool: dict[str, dict], sources: list[dict],
                   fold_of: dict[str, int], features: dict[str, Any], length: tuple[int, int],
                   seeds: list[int]) -> dict[str, Any]:
    """``--real --curve``: every fold retrained on nested subsets of its real training speakers
    (:func:`curve_subsets`), accuracy per source against the number of real training voices, into
    ``build/cv_curve.json`` / ``build/cv_curve.md`` (written after every model: an interrupted run keeps the
    points of its finished folds, marked partial)."""
    backend = "float" if args.float_only else "tflm"
    names = [src["name"] for src in sources]
    entries: list[dict[str, Any]] = []
    args.build.mkdir(parents=True, exist_ok=True)

    def write(done: bool) -> dict[str, Any]:
        # One point per subset size, and one for "all" (each fold's own number of training voices).
        points = []
        for point in sorted({e["point"] for e in entries}, key=lambda v: (v == "all", v)):
            at = [e for e in entries if e["point"] == point]
            sizes = sorted({e["real_speakers"] for e in at})
            points.append({"point": point, "real_speakers": sizes[0] if len(sizes) == 1 else sizes, "tests": len(at),
                           "per_source": {n: float(np.mean([e["per_source"][n] for e in at if n in e["per_source"]]))
                                          for n in names if any(n in e["per_source"] for e in at)}})
        report = {"real_dirs": [str(d) for d in args.real], "sources": sources, "seeds": seeds, "backend": backend,
                  "smoke": args.smoke, "overrides": args.set, "complete": done, "entries": entries, "points": points}
        (args.build / "cv_curve.json").write_text(json.dumps(report, indent=1))
        folds_done = sorted({(e["seed"], e["fold"]) for e in entries})
        lines = ["# Learning curve over the number of real training voices", "",
                 f"Each fold retrained on the synthetic set plus the first k of its real training speakers (a fixed "
                 f"pseudo-random order), accuracy of the {backend} model on the fold's held-out speakers per source, "
                 f"mean over folds and seeds {seeds}; overrides of config.toml: {_overrides(report)}."
                 + ("" if done else f" **Partial: {len(entries)} models of {len(folds_done)} (seed, fold) pairs "
                    f"finished so far.**"), "",
                 "| real training voices (per fold) | " + " | ".join(names) + " | models |",
                 "| --- | " + " | ".join("---" for _ in names) + " | --- |"]
        lines += [f"| {_curve_point_label(p)} | " + " | ".join(f"{p['per_source'][n]:.4f}" if n in p["per_source"]
                                                              else "-" for n in names) + f" | {p['tests']} |"
                  for p in points]
        (args.build / "cv_curve.md").write_text("\n".join(lines) + "\n")
        return report

    clips_of = dict(zip(*np.unique(pool["real"]["sources"], return_counts=True)))
    for seed in seeds:
        # 0 voices: the synthetic-only model is the same for every fold, so it is trained once and scored on
        # every real speaker; a fold's accuracy per source is then its speakers' clip-weighted mean.
        synth = run_fold(pool, sorted(fold_of), config, seed, length, args.build / "cv" / f"curve-synth-only-s{seed}",
                         features, args.float_only, [])
        correct = {sp: acc * clips_of[sp] for sp, acc in synth[f"{backend}_per_speaker"].items()}
        for k in sorted(set(fold_of.values())):
            held = sorted(sp for sp, f in fold_of.items() if f == k)
            others = sorted(sp for sp, f in fold_of.items() if f != k)
            by_source = {n: [sp for sp in held if pool["groups"][sp] == n] for n in names}
            entries.append({"point": 0, "real_speakers": 0, "seed": seed, "fold": k, "per_source": {
                n: float(sum(correct[sp] for sp in sps) / sum(clips_of[sp] for sp in sps))
                for n, sps in by_source.items() if sps}})
            write(False)
            for subset in [sub for sub in curve_subsets(others) if sub]:  # past the 0-voice point above
                out = args.build / "cv" / f"curve-fold{k}-{len(subset)}voices-s{seed}"
                f = run_fold(pool, held, config, seed, length, out, features, args.float_only, subset)
                entries.append({"point": "all" if len(subset) == len(others) else len(subset),
                                "real_speakers": len(subset), "seed": seed, "fold": k,
                                "per_source": {n: v["accuracy"] for n, v in f[f"{backend}_per_source"].items()}})
                write(False)
    report = write(True)
    print("cv curve: " + "; ".join(f"{_curve_point_label(p)} voices " + ", ".join(
        f"{n} {a:.4f}" for n, a in p["per_source"].items()) for p in report["points"])
          + f" -> {args.build / 'cv_curve.md'}")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m experiments.cv", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fsdd-dir", type=Path, default=Path("../shared/data/fsdd"))
    p.add_argument("--seeds", type=positive_int, default=1)
    p.add_argument("--speakers", nargs="*", help="hold out only these real speakers, one fold each (default: all)")
    p.add_argument("--noise-dir", type=Path, help="folder of background-noise WAVs mixed into training clips")
    p.add_argument("--real", nargs="*", type=Path, default=[],
                   help="real-speech folders of any layout (FSDD, Speech Commands, <label>/*.wav): folds over all "
                        "their speakers, reported per folder (instead of leave-one-FSDD-speaker-out)")
    p.add_argument("--smoke", action="store_true", help="tiny data and a couple of epochs, for tests")
    p.add_argument("--float-only", action="store_true",
                   help="screening: train the folds and test the float model only (no int8, no synthetic-only "
                        "model); writes build/cv_float.json and build/cv_float.md")
    p.add_argument("--curve", action="store_true",
                   help="learning curve: test each held-out speaker after training on every subset of the other "
                        "real speakers (0, 1, 2, ...); writes build/cv_curve.json and build/cv_curve.md")
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE",
                   help="override config.toml values for this run (TOML values, e.g. features.num_mels=26)")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: main(parse_args()), tensorflow=True)
