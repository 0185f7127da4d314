"""The runs of a study: one fold trained, converted to int8 and tested; every fold of every seed with the
synthetic-only model; the learning curve over the number of real training voices; and the study itself
(:func:`study`), whose reports are rewritten after every model, so a stopped run keeps its finished folds."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from data.artifacts import FLOAT_FILE
from data.config import apply_overrides, load_config
from data.features import FeatureParams, apply_norm
from data.synth import is_synthetic
from experiments.cv.folds import build_pool, curve_subsets, fold_plan, make_fold
from experiments.cv.report import summarize, summarize_curve, write_curve_markdown, write_markdown
from host.evaluate import compute_metrics, label_metrics, run_backends
from host.runtime import Runtime
from quantize.build import build_int8
from train.fit import train_model
from train.stage import schedule

ARCH = "bilstm"


def _scores_by(pred: np.ndarray, test: dict[str, np.ndarray], key: np.ndarray, labels: int) -> dict[str, dict]:
    """Accuracy, clip count and confusion matrix of ``pred`` on the test clips of each value of ``key`` (a speaker
    or source per clip)."""
    out = {}
    for name in sorted(set(key.tolist())):
        rows = key == name
        m = label_metrics(test["y"][rows], pred[rows], labels)
        out[str(name)] = {"accuracy": m["accuracy"], "clips": int(rows.sum()), "confusion": m["confusion"]}
    return out


def run_fold(pool: dict[str, Any], holdout: list[str], config: dict, seed: int, length: tuple[int, int], out: Path,
             features: dict[str, Any], float_only: bool = False,
             train_speakers: list[str] | None = None) -> dict[str, Any]:
    """Train, convert and evaluate one fold; the model files go to ``out``.

    ``train_speakers``: the real speakers that train, as in :func:`experiments.cv.folds.make_fold` (default: all
    not held out).

    Returns
    -------
    dict
        ``holdout`` (list), ``train_speakers``, ``seed``, ``epochs``, ``val_accuracy``, clip counts, the
        :func:`host.evaluate.compute_metrics` summary (accuracy per backend with the TFLM confusion matrix,
        agreement, sizes) and, for the tested backend (``tflm``, or ``float`` with ``float_only``: the float model
        alone, no int8 conversion, nothing written to ``out``), ``<backend>_per_source`` and
        ``<backend>_per_speaker``: accuracy, clips and confusion matrix of each real source and held-out speaker.
    """
    train, train_aug, val, test = make_fold(pool, holdout, train_speakers)
    model, norm, history = train_model(train, val, config, seed, length[0], None, ARCH, verbose=0,
                                       train_aug=train_aug, min_updates=length[1])
    result: dict[str, Any] = {
        "holdout": sorted(holdout), "train_speakers": sorted({str(s) for s in train["sources"]
                                                              if not is_synthetic(str(s))}),
        "seed": seed, "epochs": len(history["loss"]), "val_accuracy": float(max(history["val_accuracy"])),
        "n_clips": int(len(test["y"])),
        "train_clips": {"synthetic": int(sum(is_synthetic(s) for s in train["sources"])),
                        "real": int(sum(not is_synthetic(s) for s in train["sources"])),
                        "augmented": int(len(train_aug["y"]))},
        "params": int(model.count_params())}
    labels = len(test["labels"])
    if float_only:
        backend, pred = "float", model.predict(apply_norm(test["x"], norm), verbose=0).argmax(1)
        result["float"] = label_metrics(test["y"], pred, labels)
    else:
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / FLOAT_FILE)
        _, meta = build_int8(out, model, ARCH, norm, train, features, "real+synth (cv fold)", config)
        rt = Runtime.open(out, warn=False)
        scores = run_backends(test["x"], rt)
        m = compute_metrics(scores, test["y"], rt)
        backend, pred = "tflm", scores["tflm"].argmax(1)
        result.update({k: {"accuracy": m[k]["accuracy"], "macro_f1": m[k]["macro_f1"]}
                       for k in ("float", "int8", "tflm")})
        result["tflm"]["confusion"] = m["tflm"]["confusion"]
        result.update({"agreement": m["agreement"], "model_bytes": m["model_bytes"],
                       "arena_bytes": m["arena_bytes"], "ops": meta["ops"]})
    groups = np.array([pool["groups"][str(s)] for s in test["sources"]], dtype=str)
    result[f"{backend}_per_source"] = _scores_by(pred, test, groups, labels)
    result[f"{backend}_per_speaker"] = _scores_by(pred, test, test["sources"], labels)
    accuracies = " ".join(f"{k} {result[k]['accuracy']:.4f}" for k in ("float", "int8", "tflm") if k in result)
    print(f"  seed {seed}: {len(holdout)} held-out, {len(result['train_speakers'])} real training speakers: "
          f"{accuracies} ({result['epochs']} epochs)", flush=True)
    return result


def run_folds(pool: dict[str, Any], fold_of: dict[str, int], config: dict, seeds: list[int],
              length: tuple[int, int], build: Path, features: dict[str, Any], float_only: bool,
              write: Callable[[list[dict], list[dict], bool], None]) -> tuple[list[dict], list[dict]]:
    """Every seed: one model per fold (its speakers held out, every other real speaker training), then, unless
    ``float_only``, the synthetic-only model tested on every real speaker; ``write(folds, synthetic_only, False)``
    after every model (the caller writes the finished report).

    Returns
    -------
    folds, synthetic_only : list of dict
        :func:`run_fold` results, each fold's with its number (``fold``).
    """
    folds: list[dict] = []
    synth_only: list[dict] = []
    every = sorted(pool["groups"])
    for seed in seeds:
        print(f"seed {seed}: {len(set(fold_of.values()))} folds"
              + ("" if float_only else ", then the synthetic-only model"), flush=True)
        for k in sorted(set(fold_of.values())):
            held = sorted(sp for sp, f in fold_of.items() if f == k)
            folds.append({"fold": k, **run_fold(pool, held, config, seed, length, build / "cv" / f"fold{k}-s{seed}",
                                                features, float_only)})
            write(folds, synth_only, False)
        if not float_only:
            synth_only.append(run_fold(pool, every, config, seed, length, build / "cv" / f"synth-only-s{seed}",
                                       features, train_speakers=[]))
            write(folds, synth_only, False)
    return folds, synth_only


def run_curve(pool: dict[str, Any], fold_of: dict[str, int], config: dict, seeds: list[int],
              length: tuple[int, int], build: Path, features: dict[str, Any], float_only: bool,
              write: Callable[[list[dict], bool], None]) -> list[dict]:
    """The learning curve: every fold retrained on nested subsets of its real training speakers
    (:func:`experiments.cv.folds.curve_subsets`); ``write(entries, False)`` after every model (the caller writes
    the finished report).

    Returns
    -------
    list of dict
        One entry per (seed, fold, subset): ``point`` (the number of voices, ``all`` for every one of the fold's),
        ``real_speakers``, ``seed``, ``fold``, ``per_source`` and ``per_speaker`` accuracy.
    """
    backend = "float" if float_only else "tflm"
    entries: list[dict] = []
    every = sorted(pool["groups"])
    for seed in seeds:
        # 0 voices: the synthetic-only model is the same for every fold, so it is trained once and scored on every
        # real speaker; a fold's accuracy per source is then its speakers' clip-weighted mean.
        synth = run_fold(pool, every, config, seed, length, build / "cv" / f"curve-synth-only-s{seed}", features,
                         float_only, [])[f"{backend}_per_speaker"]
        for k in sorted(set(fold_of.values())):
            held = sorted(sp for sp, f in fold_of.items() if f == k)
            others = sorted(sp for sp in every if sp not in held)
            by_source: dict[str, list[str]] = {}
            for sp in held:
                by_source.setdefault(pool["groups"][sp], []).append(sp)
            entries.append({"point": 0, "real_speakers": 0, "seed": seed, "fold": k, "per_source": {
                n: sum(synth[sp]["accuracy"] * synth[sp]["clips"] for sp in sps) / sum(synth[sp]["clips"] for sp in sps)
                for n, sps in sorted(by_source.items())}, "per_speaker": {sp: synth[sp]["accuracy"] for sp in held}})
            write(entries, False)
            for subset in [sub for sub in curve_subsets(others) if sub]:  # past the 0-voice point above
                out = build / "cv" / f"curve-fold{k}-{len(subset)}voices-s{seed}"
                f = run_fold(pool, held, config, seed, length, out, features, float_only, subset)
                entries.append({"point": "all" if len(subset) == len(others) else len(subset),
                                "real_speakers": len(subset), "seed": seed, "fold": k,
                                "per_source": {n: v["accuracy"] for n, v in f[f"{backend}_per_source"].items()},
                                "per_speaker": {sp: v["accuracy"] for sp, v in f[f"{backend}_per_speaker"].items()}})
                write(entries, False)
    return entries


def protocol(folds: int) -> str:
    return (f"synthetic training speakers + the real speakers of the other folds (with audio-augmented copies, real "
            f"clips oversampled, a speaker's word capped at [train] real_clips_per_word); early stopping on "
            f"synthetic validation speakers; {folds} folds over the real speakers: a small source's speakers one "
            f"per fold, a large source's by speaker hash; test = every clip of the fold's held-out speakers")


def study(args: argparse.Namespace) -> dict[str, Any]:
    """``python -m experiments.cv`` (its docstring): the pool, the folds, their runs and the reports."""
    config = apply_overrides(load_config(), args.set)
    length = schedule(config, args.smoke)
    seed0 = int(config["train"]["seed"])
    seeds = list(range(seed0, seed0 + args.seeds))
    folders = args.real or [args.fsdd_dir]
    pool, sources = build_pool(args.build, folders, config, args.smoke, args.noise_dir)
    fold_of = fold_plan(sources, int(config["cv"]["real_folds"]), args.speakers)
    features = FeatureParams.from_config(config).to_dict()
    labels = [str(lab) for lab in pool["real"]["labels"]]
    backend = "float" if args.float_only else "tflm"
    head = {"folders": [str(d) for d in folders], "sources": sources,
            "speakers": sorted(pool["groups"]), "fold_of": fold_of, "seeds": seeds, "smoke": args.smoke,
            "overrides": args.set}
    args.build.mkdir(parents=True, exist_ok=True)
    if args.curve:
        def write_curve(entries: list[dict], done: bool) -> dict[str, Any]:
            report = {**head, "backend": backend, "complete": done, "entries": entries,
                      **summarize_curve(entries, sources, config["cv"])}
            (args.build / "cv_curve.json").write_text(json.dumps(report, indent=1))
            write_curve_markdown(args.build / "cv_curve.md", report)
            return report

        report = write_curve(run_curve(pool, fold_of, config, seeds, length, args.build, features, args.float_only,
                                       write_curve), True)
        print("cv curve: " + "; ".join(f"{p['point']} voices " + ", ".join(
            f"{n} {a:.4f}" for n, a in p["per_source"].items()) for p in report["points"])
              + f" -> {args.build / 'cv_curve.md'}")
        return report
    stem = "cv_float" if args.float_only else "cv"

    def write(folds: list[dict], synth_only: list[dict], done: bool) -> dict[str, Any]:
        report = {"protocol": protocol(len(set(fold_of.values()))), **head,
                  "folds_per_seed": len(set(fold_of.values())), "complete": done, "epochs": length[0],
                  "min_updates": length[1], "model_config": config["model"], "train": config["train"],
                  "limits": config["cv"], "folds": folds,
                  **({} if args.float_only else {"synthetic_only": synth_only}),
                  "summary": summarize(folds, synth_only, sources, config["cv"], backend, labels)}
        (args.build / f"{stem}.json").write_text(json.dumps(report, indent=1))
        write_markdown(args.build / f"{stem}.md", report)
        return report

    report = write(*run_folds(pool, fold_of, config, seeds, length, args.build, features, args.float_only, write),
                   True)
    s = report["summary"]
    print(f"cv ({backend}): " + ", ".join(f"{n} mean {st['folds']['mean']:.4f} worst fold {st['folds']['min']:.4f}"
                                         for n, st in s["per_source"].items())
          + f"; targets {'met' if s['passed'] else 'NOT met'} -> {args.build / (stem + '.md')}")
    return report
