"""The training stage of a classifier (``[model] task = "classification"``; regression: :mod:`train.regression`):
reads ``build/features/``, writes the float model, its normalization and its record.

Outputs (replaced together, only when training succeeds): ``build/model_float.h5``, ``build/norm.json``,
``build/train.json`` (history, seeds, collapse check, and the features it was trained on: labels, feature
parameters and a digest of ``features/dataset.json``, which the quantize stage checks), ``build/curves.png``;
TensorBoard logs in ``build/tensorboard/``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import features_digest
from data.config import PipelineError, load_config
from data.datasets import load_split
from data.features import apply_norm, fit_norm
from data.synth import is_synthetic
from train.augment import MfccAugmenter
from train.collapse import check_collapse
from train.model import build_model
from train.schedule import learning_rate
from train.stage import epoch_bar, print_written, save_training, schedule, set_seed


def train_model(train: dict, val: dict, config: dict, seed: int, epochs: int, out_dir: Path | None,
                architecture: str = "bilstm", verbose: int = 2, train_aug: dict | None = None,
                min_updates: int = 0) -> tuple[Any, dict, dict]:
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
    repeats = clip_weights(train, tcfg)
    model = build_model(x_train.shape[1:], len(labels), config["model"], architecture)
    augmenter = MfccAugmenter(x_train, y_train, len(labels), int(tcfg["batch_size"]), config["augment"], seed,
                              origin, repeats)
    epochs = max(epochs, math.ceil(min_updates / len(augmenter)))
    # [train] lr_schedule over the planned epochs (train/schedule.py; the default cosine decay: the validation split
    # is synthetic, a weak guide for when to stop on real speech).
    rate = learning_rate(keras, tcfg, epochs * len(augmenter))
    # Targets are class probabilities (mixup mixes them), so the loss is the categorical cross-entropy.
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])
    callbacks: list = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(tcfg["patience"]),
                                                     restore_best_weights=True)]
    if out_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out_dir / "tensorboard" / f"seed{seed}")))
    if not verbose:  # Keras prints nothing then: a progress bar over the epochs instead
        callbacks.append(epoch_bar(keras, epochs))
    start = time.perf_counter()
    y_val = keras.utils.to_categorical(val["y"], len(labels))
    fit = model.fit(augmenter, validation_data=(x_val, y_val), epochs=epochs, callbacks=callbacks,
                      verbose=verbose)
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    history["seconds_per_epoch"] = (time.perf_counter() - start) / max(len(history["loss"]), 1)
    return model, norm, history


def clip_weights(train: dict, tcfg: dict) -> np.ndarray:
    """Visits per epoch of each training clip: 1 for a synthetic clip, ``real_oversample`` for a real one, scaled
    down for a real speaker's word with more than ``real_clips_per_word`` takes (0: no limit), so that one prolific
    speaker (620 takes) cannot outweigh a hundred speakers with a take or two.

    Parameters
    ----------
    train : dict
        A split (``sources``, ``y``).
    tcfg : dict
        ``config.toml [train]``.

    Returns
    -------
    np.ndarray, shape (n,), float
    """
    sources = np.asarray(train["sources"]).astype(str)
    real = np.array([not is_synthetic(s) for s in sources], bool)
    weights = np.where(real, float(tcfg["real_oversample"]), 1.0)
    cap = int(tcfg["real_clips_per_word"])
    if cap and real.any():
        words = np.char.add(np.char.add(sources, "|"), np.asarray(train["y"]).astype(str))
        _, group, counts = np.unique(words, return_inverse=True, return_counts=True)
        weights = np.where(real, weights * np.minimum(1.0, cap / counts[group.ravel()]), weights)
    return weights


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


def run(build: Path, seeds: int, architecture: str, smoke: bool, verbose: int = 0) -> dict:
    """Train ``seeds`` models (the first is the product model) and write the stage's outputs.

    Returns
    -------
    dict
        The summary written to ``train.json``.
    """
    config = load_config()
    features = build / "features"
    digest = features_digest(features)
    dataset = json.loads((features / "dataset.json").read_text())
    train_split, val_split = load_split(features / "train.npz"), load_split(features / "val.npz")
    aug_path = features / "train_aug.npz"
    train_aug = load_split(aug_path) if aug_path.exists() else None
    epochs, min_updates = schedule(config, smoke)
    seed0 = int(config["train"]["seed"])
    runs = []
    best = None
    for i in range(seeds):
        seed = seed0 + i
        print(f"training {architecture} seed {seed} ({i + 1}/{seeds}) for {epochs}+ epochs")
        model, norm, history = train_model(train_split, val_split, config, seed, epochs, build, architecture,
                                           verbose=verbose, train_aug=train_aug, min_updates=min_updates)
        val_scores = model.predict(apply_norm(val_split["x"], norm), verbose=0)
        val_acc = float((val_scores.argmax(1) == val_split["y"]).mean())
        print(f"  seed {seed}: validation accuracy {val_acc:.4f} after {len(history['loss'])} epochs")
        runs.append({"seed": seed, "val_accuracy": val_acc, "epochs": len(history["loss"]), "history": history,
                     "val_predictions": {"histogram": np.bincount(val_scores.argmax(1),
                                                                  minlength=val_scores.shape[1]).tolist()}})
        if i == 0:  # the product model is always the configured seed: reproducible, not cherry-picked
            best = (model, norm, history, val_scores)
    model, norm, history, val_scores = best
    collapse = check_collapse(val_scores, "validation split") if not smoke else None
    accs = [r["val_accuracy"] for r in runs]
    summary = {"architecture": architecture, "model_config": config["model"], "params": model.count_params(),
               "labels": [str(s) for s in train_split["labels"]], "dataset": dataset["dataset"],
               "features": dataset["features"], "features_digest": digest, "seeds": runs,
               "val_accuracy": {"mean": float(np.mean(accs)), "std": float(np.std(accs)), "min": float(np.min(accs))},
               "collapse_check": collapse, "seconds_per_epoch": history["seconds_per_epoch"]}
    save_training(build, model, norm, summary, lambda path: plot_curves(history, path))
    print(f"validation accuracy {summary['val_accuracy']['mean']:.4f} ± {summary['val_accuracy']['std']:.4f} over "
          f"{seeds} seed(s)")
    print_written(build)
    return summary
