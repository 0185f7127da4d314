"""Entry point of the training stage: reads ``build/features/``, writes the float model and its normalization.

    python -m train [--seeds N] [--smoke]

Outputs: ``build/model_float.h5``, ``build/norm.json``, ``build/train.json`` (history, seeds, collapse check),
``build/curves.png``, TensorBoard logs in ``build/tensorboard/``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.config import PipelineError, load_config, positive_int, run_main
from data.datasets import load_split
from data.features import apply_norm, fit_norm
from data.synth import is_synthetic
from train.augment import MfccAugmenter
from train.collapse import check_collapse
from train.model import ARCHITECTURES, build_model

# Teachers train on seeds this far from the model's own: `--seeds N` never trains a model and a teacher alike.
TEACHER_SEED_OFFSET = 1000


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic (same seed, same model)."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train_once(train: dict, val: dict, config: dict, seed: int, epochs: int, out_dir: Path | None,
               architecture: str = "bilstm", verbose: int = 2, train_aug: dict | None = None,
               min_updates: int = 0, teachers: list | None = None) -> tuple[Any, dict, dict]:
    """Train one model.

    Parameters
    ----------
    train, val : dict
        Splits from :func:`data.datasets.load_split` (``x`` (n, frames, coeffs) raw MFCC, ``y`` (n,), ``ids``,
        ``sources``).
    train_aug : dict, optional
        Audio-augmented copies of training clips in the same format (``train_aug.npz``); each row's ``ids`` names
        its original clip, which must be in ``train``. Every epoch uses one version of each clip.
    config : dict
        The whole ``config.toml``.
    seed : int
    epochs : int
        Planned epochs; more when ``min_updates`` needs them.
    out_dir : Path or None
        Where TensorBoard logs go (none when ``None``).
    min_updates : int
        At least this many optimizer updates (``config.toml [train] min_updates``; 0 for smoke runs).
    teachers : list of tf_keras.Model, optional
        Trained models (same normalization) whose averaged scores the model also learns from
        (:class:`train.distill.Distiller`, weight ``[train] distill_weight``).

    Returns
    -------
    model : tf_keras.Model
        Best weights by validation loss (early stopping).
    norm : dict
        Normalization statistics fitted on ``train``.
    history : dict
        Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and ``seconds_per_epoch``.
    """
    import tf_keras as keras

    # Drop the graphs of models trained before in this process (make cv trains 15 in one).
    keras.backend.clear_session()
    set_seed(seed)
    tcfg = config["train"]
    smoothing = float(tcfg["label_smoothing"])
    if not 0.0 <= smoothing < 1.0:
        raise PipelineError(f"config.toml [train]: label_smoothing must be in [0, 1), got {smoothing}")
    labels = [str(s) for s in train["labels"]]
    ncfg = config["normalization"]
    norm = fit_norm(train["x"], bool(ncfg["per_utterance_mean"]), float(ncfg["clip"]))
    x_train, x_val = apply_norm(train["x"], norm), apply_norm(val["x"], norm)
    y_train, origin = train["y"], np.arange(len(train["y"]))
    if train_aug is not None and len(train_aug["y"]):
        position = {str(p): i for i, p in enumerate(train["ids"])}
        missing = sorted({str(p) for p in train_aug["ids"]} - set(position))
        if missing:
            raise PipelineError(f"augmented copies of clips outside the training split, e.g. {missing[0]}")
        x_train = np.concatenate([x_train, apply_norm(train_aug["x"], norm)])
        y_train = np.concatenate([y_train, train_aug["y"]])
        origin = np.concatenate([origin, [position[str(p)] for p in train_aug["ids"]]])
    real = np.array([not is_synthetic(str(s)) for s in train["sources"]])
    repeats = np.where(real, int(tcfg["real_oversample"]), 1)
    model = build_model(x_train.shape[1:], len(labels), config["model"], architecture)
    augmenter = MfccAugmenter(x_train, y_train, len(labels), int(tcfg["batch_size"]), config["augment"], seed,
                              origin, repeats)
    epochs = max(epochs, math.ceil(min_updates / len(augmenter)))
    # Cosine decay to zero over the planned epochs: the last epochs fine-tune at a small rate instead of
    # bouncing at a large one (the validation split is synthetic, a weak guide for when to stop on real speech).
    rate = keras.optimizers.schedules.CosineDecay(float(tcfg["learning_rate"]), epochs * len(augmenter))
    trainer = model
    if teachers:
        from train.distill import Distiller

        trainer = Distiller(model, teachers, float(tcfg["distill_weight"]))
    # Targets are class probabilities (mixup mixes them), so the loss is the categorical cross-entropy.
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    trainer.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])
    callbacks: list = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(tcfg["patience"]),
                                                     restore_best_weights=True)]
    if out_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out_dir / "tensorboard" / f"seed{seed}")))
    start = time.perf_counter()
    y_val = keras.utils.to_categorical(val["y"], len(labels))
    fit = trainer.fit(augmenter, validation_data=(x_val, y_val), epochs=epochs, callbacks=callbacks,
                      verbose=verbose)
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    history["seconds_per_epoch"] = (time.perf_counter() - start) / max(len(history["loss"]), 1)
    return model, norm, history


def train_model(train: dict, val: dict, config: dict, seed: int, epochs: int, out_dir: Path | None,
                architecture: str = "bilstm", verbose: int = 2, train_aug: dict | None = None,
                min_updates: int = 0) -> tuple[Any, dict, dict]:
    """:func:`train_once`, first training ``[train] teachers`` teacher models (0: none) to distill from.

    Teacher ``k`` trains like the model itself on seed ``seed + TEACHER_SEED_OFFSET + k``. Parameters and returns
    as :func:`train_once`; ``history["teachers"]`` counts the teachers.
    """
    n = config["train"]["teachers"]
    weight = config["train"]["distill_weight"]
    if not isinstance(n, int) or n < 0 or not 0.0 <= float(weight) <= 1.0:
        raise PipelineError(f"config.toml [train]: teachers must be an integer >= 0 and distill_weight in [0, 1], "
                            f"got {n!r} and {weight!r}")
    teachers = []
    for k in range(n):
        if verbose:
            print(f"teacher {k + 1}/{n} (seed {seed + TEACHER_SEED_OFFSET + k})")
        teachers.append(train_once(train, val, config, seed + TEACHER_SEED_OFFSET + k, epochs, None, architecture,
                                   verbose, train_aug, min_updates)[0])
    model, norm, history = train_once(train, val, config, seed, epochs, out_dir, architecture, verbose, train_aug,
                                      min_updates, teachers)
    history["teachers"] = n
    return model, norm, history


def schedule(config: dict, smoke: bool) -> tuple[int, int]:
    """Planned epochs and minimum optimizer updates of a run (``[train]``; a couple of epochs for smoke runs)."""
    tcfg = config["train"]
    return (int(tcfg["smoke_epochs"]), 0) if smoke else (int(tcfg["epochs"]), int(tcfg["min_updates"]))


def plot_curves(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", a), ("accuracy", b)):
        ax.plot(history[key], label="train")
        ax.plot(history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(args: argparse.Namespace) -> dict:
    config = load_config()
    build = args.build
    train_split, val_split = load_split(build / "features" / "train.npz"), load_split(build / "features" / "val.npz")
    aug_path = build / "features" / "train_aug.npz"
    train_aug = load_split(aug_path) if aug_path.exists() else None
    epochs, min_updates = schedule(config, args.smoke)
    seed0 = int(config["train"]["seed"])
    runs = []
    best = None
    for i in range(args.seeds):
        seed = seed0 + i
        print(f"training {args.architecture} seed {seed} ({i + 1}/{args.seeds}) for {epochs}+ epochs")
        model, norm, history = train_model(train_split, val_split, config, seed, epochs, build, args.architecture,
                                            train_aug=train_aug, min_updates=min_updates)
        val_x = apply_norm(val_split["x"], norm)
        val_scores = model.predict(val_x, verbose=0)
        val_acc = float((val_scores.argmax(1) == val_split["y"]).mean())
        runs.append({"seed": seed, "val_accuracy": val_acc, "epochs": len(history["loss"]), "history": history,
                     "val_predictions": {"histogram": np.bincount(val_scores.argmax(1),
                                                                  minlength=val_scores.shape[1]).tolist()}})
        if i == 0:  # the product model is always the configured seed: reproducible, not cherry-picked
            best = (model, norm, history, val_scores)
    model, norm, history, val_scores = best
    collapse = check_collapse(val_scores, "validation split") if not args.smoke else None
    model.save(build / "model_float.h5")
    (build / "norm.json").write_text(json.dumps(norm))
    accs = [r["val_accuracy"] for r in runs]
    summary = {"architecture": args.architecture, "model_config": config["model"], "params": model.count_params(),
               "labels": [str(s) for s in train_split["labels"]], "seeds": runs,
               "val_accuracy": {"mean": float(np.mean(accs)), "std": float(np.std(accs)), "min": float(np.min(accs))},
               "collapse_check": collapse, "seconds_per_epoch": history["seconds_per_epoch"]}
    (build / "train.json").write_text(json.dumps(summary, indent=1))
    plot_curves(history, build / "curves.png")
    print(f"validation accuracy {summary['val_accuracy']['mean']:.4f} ± {summary['val_accuracy']['std']:.4f} over "
          f"{args.seeds} seed(s); model -> {build / 'model_float.h5'}")
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=positive_int, default=1,
                   help="train this many seeds; the first is the product model")
    p.add_argument("--architecture", default="bilstm", choices=ARCHITECTURES)
    p.add_argument("--smoke", action="store_true", help="a couple of epochs, for tests")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: main(parse_args()))
