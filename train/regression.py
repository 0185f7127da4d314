"""Training a regression model (``[model] task = "regression"``): the BiLSTM (``lstm_layers`` stacked, ``dropout``)
with one linear output, mean squared error, the ``[train] lr_schedule``.

Targets are standardized for training (mean 0, std 1: the same learning rate suits any unit) and the scaling is then
folded into the output layer's weights, so the saved model predicts in the targets' own units and the int8 output
dequantizes straight to a value. Writes what :func:`train.fit.run` writes (``model_float.h5``, ``norm.json``,
``train.json`` with ``task``, ``curves.png``).
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
import tf_keras as keras

from data.artifacts import features_digest
from data.config import PipelineError, load_config
from data.datasets import load_split
from data.features import apply_norm, fit_norm
from train.augment import augment_batch
from train.collapse import check_constant_output
from train.metrics import regression_scores
from train.model import build_model
from train.schedule import learning_rate
from train.stage import epoch_bar, print_written, save_training, schedule, set_seed


class TargetBatches(keras.utils.Sequence):
    """Shuffled batches of ``(augmented x, standardized targets)``; MFCC augmentation of ``[augment]`` without
    mixup; deterministic by seed."""

    def __init__(self, x: np.ndarray, z: np.ndarray, batch_size: int, params: dict[str, Any], seed: int) -> None:
        super().__init__()
        self.x, self.z, self.batch_size, self.p = x, z, batch_size, params
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.x) / self.batch_size))

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return augment_batch(self.x[idx], self.p, self.rng), self.z[idx]


def fold_scaling(model: Any, mean: float, std: float) -> None:
    """Make the output layer predict ``std * z + mean`` instead of the standardized ``z``."""
    out = model.get_layer("value")
    w, b = out.get_weights()
    out.set_weights([w * std, b * std + mean])


def train_regression(train: dict, val: dict, config: dict, seed: int, epochs: int, out_dir: Path | None,
                     architecture: str, verbose: int, min_updates: int) -> tuple[Any, dict, dict]:
    """Train one regression model; returns the model (best validation loss, scaling folded in), its
    normalization and the history (``loss``, ``mae``, ``val_loss``, ``val_mae`` in standardized units)."""
    keras.backend.clear_session()
    set_seed(seed)
    tcfg = config["train"]
    ncfg = config["normalization"]
    norm = fit_norm(train["x"], bool(ncfg["per_utterance_mean"]), float(ncfg["clip"]))
    y_train, y_val = train["y"].astype(np.float64), val["y"].astype(np.float64)
    mean, std = float(y_train.mean()), float(y_train.std())
    if not std > 0:
        raise PipelineError(f"every training target is {mean:g}: nothing to learn")
    x_train, x_val = apply_norm(train["x"], norm), apply_norm(val["x"], norm)
    model = build_model(x_train.shape[1:], 1, config["model"], architecture)
    batches = TargetBatches(x_train, ((y_train - mean) / std).astype(np.float32), int(tcfg["batch_size"]),
                            config["augment"], seed)
    epochs = max(epochs, math.ceil(min_updates / len(batches)))
    rate = learning_rate(keras, tcfg, epochs * len(batches))
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="mse", metrics=["mae"])
    callbacks: list = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(tcfg["patience"]),
                                                     restore_best_weights=True)]
    if out_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out_dir / "tensorboard" / f"seed{seed}")))
    if not verbose:
        callbacks.append(epoch_bar(keras, epochs, "val_mae"))
    start = time.perf_counter()
    fit = model.fit(batches, validation_data=(x_val, ((y_val - mean) / std).astype(np.float32)), epochs=epochs,
                    callbacks=callbacks, verbose=verbose)
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    history["seconds_per_epoch"] = (time.perf_counter() - start) / max(len(history["loss"]), 1)
    fold_scaling(model, mean, std)
    history["target"] = {"mean": mean, "std": std}
    return model, norm, history


def plot_curves(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in zip(("loss", "mae"), axes):
        ax.plot(history[key], label="train")
        ax.plot(history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key} (standardized targets)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_regression(build: Path, seeds: int, architecture: str, smoke: bool, verbose: int = 0) -> dict:
    """The training stage of a regression dataset (``python -m train`` when ``task = "regression"``)."""
    config = load_config()
    features = build / "features"
    digest = features_digest(features)
    dataset = json.loads((features / "dataset.json").read_text())
    if dataset.get("task") != "regression":
        raise PipelineError(f"{features / 'dataset.json'}: not a regression dataset (config.toml has task = "
                            "\"regression\"): build it with --targets <file,value CSV> (make: TARGETS=...)")
    if architecture != "bilstm":
        raise PipelineError(f"regression trains the bilstm only, not {architecture!r}")
    train_split, val_split = load_split(features / "train.npz"), load_split(features / "val.npz")
    epochs, min_updates = schedule(config, smoke)
    seed0 = int(config["train"]["seed"])
    runs, best = [], None
    for i in range(seeds):
        seed = seed0 + i
        print(f"training regression {architecture} seed {seed} ({i + 1}/{seeds}) for {epochs}+ epochs")
        model, norm, history = train_regression(train_split, val_split, config, seed, epochs, build, architecture,
                                                verbose, min_updates)
        pred = model.predict(apply_norm(val_split["x"], norm), verbose=0)[:, 0]
        scores = regression_scores(val_split["y"], pred)
        print(f"  seed {seed}: validation MSE {scores['mse']:.4f}, MAE {scores['mae']:.4f}, R2 {scores['r2']:.4f} "
              f"after {len(history['loss'])} epochs")
        runs.append({"seed": seed, "val": scores, "epochs": len(history["loss"]), "history": history})
        if i == 0:  # the product model is always the configured seed
            best = (model, norm, history, pred)
    model, norm, history, pred = best
    collapse = check_constant_output(pred, val_split["y"], "validation split") if not smoke else None
    summary = {"task": "regression", "architecture": architecture, "model_config": config["model"],
               "params": model.count_params(), "labels": [str(s) for s in train_split["labels"]],
               "dataset": dataset["dataset"], "features": dataset["features"], "features_digest": digest,
               "seeds": runs, "val": {k: float(np.mean([r["val"][k] for r in runs])) for k in ("mse", "mae", "r2")},
               "collapse_check": collapse, "seconds_per_epoch": history["seconds_per_epoch"]}
    save_training(build, model, norm, summary, lambda path: plot_curves(history, path))
    print(f"validation MSE {summary['val']['mse']:.4f}, MAE {summary['val']['mae']:.4f}, R2 {summary['val']['r2']:.4f}"
          f" over {seeds} seed(s)")
    print_written(build)
    return summary
