"""What both training tasks share (classification: :mod:`train.fit`, regression: :mod:`train.regression`): the
seed, the epoch schedule, the progress bar over the epochs, and writing the stage's outputs together."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from data.artifacts import FLOAT_FILE, NORM_FILE, TRAIN_FILE, staged_outputs


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic (same seed, same model)."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def epoch_bar(keras: Any, epochs: int, metric: str = "val_accuracy") -> Any:
    """A Keras callback that shows training as one progress bar over ``epochs`` (the validation ``metric`` as
    postfix)."""
    from tqdm import tqdm

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.bar = tqdm(total=epochs, desc="training", unit="epoch", leave=False)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.bar.set_postfix({metric: f"{(logs or {}).get(metric, 0.0):.3f}"}, refresh=False)
            self.bar.update()

        def on_train_end(self, logs: dict | None = None) -> None:
            self.bar.close()

    return EpochBar()


def schedule(config: dict, smoke: bool) -> tuple[int, int]:
    """Planned epochs and minimum optimizer updates of a run (``[train]``; a couple of epochs for smoke runs)."""
    tcfg = config["train"]
    return (int(tcfg["smoke_epochs"]), 0) if smoke else (int(tcfg["epochs"]), int(tcfg["min_updates"]))


def save_training(build: Path, model: Any, norm: dict, summary: dict, plot: Any) -> None:
    """The training stage's outputs, replaced together only when all are written: model, normalization, summary
    and the learning curves (``plot(path)``)."""
    with staged_outputs(build) as stage:
        model.save(stage / FLOAT_FILE)
        (stage / NORM_FILE).write_text(json.dumps(norm))
        (stage / TRAIN_FILE).write_text(json.dumps(summary, indent=1))
        plot(stage / "curves.png")


def print_written(build: Path) -> None:
    print(f"wrote {build / FLOAT_FILE}, {build / NORM_FILE}, {build / TRAIN_FILE}, {build / 'curves.png'}")
