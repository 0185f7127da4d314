"""Distillation: the student follows the teachers as far as the weight says, and only the student trains."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import pytest

from data.config import PipelineError, load_config

SHAPE = (6, 3)


def _student(seed: int):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(SHAPE)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inp)))


def _teacher_always_one():
    """A fixed teacher: class 1 with probability ~1 for every input."""
    import tf_keras as keras

    inp = keras.Input(SHAPE)
    out = keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros",
                             bias_initializer=keras.initializers.Constant([-8.0, 8.0]))(keras.layers.Flatten()(inp))
    return keras.Model(inp, out)


def _fit(weight: float) -> tuple[np.ndarray, list, list]:
    """Train a student on labels that are all 0 next to a teacher that says 1; predictions and teacher weights."""
    import tf_keras as keras

    from train.distill import Distiller

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (128,) + SHAPE).astype(np.float32)
    y = np.zeros(128, np.int64)
    teacher = _teacher_always_one()
    before = teacher.get_weights()
    distiller = Distiller(_student(1), [teacher], weight)
    distiller.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    x_val = rng.normal(0, 1, (32,) + SHAPE).astype(np.float32)
    y_val = np.zeros(32, np.int64)
    history = distiller.fit(x, y, batch_size=32, epochs=15, validation_data=(x_val, y_val), verbose=0).history
    # validation scores the student against the labels: the loss early stopping watches
    scores = distiller.student.predict(x_val, verbose=0)
    expected = float(keras.losses.sparse_categorical_crossentropy(y_val, scores).numpy().mean())
    assert history["val_loss"][-1] == pytest.approx(expected, rel=1e-4)
    assert {"loss", "accuracy", "val_accuracy"} <= set(history)
    return distiller.student.predict(x, verbose=0).argmax(1), before, teacher.get_weights()


@pytest.mark.parametrize("weight, expected", [(1.0, 1), (0.0, 0)])
def test_student_follows_teachers_or_labels_by_weight(weight: float, expected: int) -> None:
    predicted, before, after = _fit(weight)
    assert (predicted == expected).mean() > 0.95
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # teachers never train


def test_distiller_rejects_bad_settings() -> None:
    from train.distill import Distiller

    with pytest.raises(PipelineError, match=r"distillation needs >= 1 teacher and a weight in \[0, 1\], got 0"):
        Distiller(_student(1), [], 0.5)
    with pytest.raises(PipelineError, match=r"got 1 teacher\(s\) and weight 1.5"):
        Distiller(_student(1), [_teacher_always_one()], 1.5)


def test_train_model_trains_teachers_then_a_plain_student(tiny_splits: tuple[dict, dict]) -> None:
    from train.__main__ import train_model
    from train.model import build_model

    train, val = tiny_splits
    config = load_config()
    config["model"] = config["model"] | {"lstm_units": 4}
    config["train"] = config["train"] | {"teachers": 1, "distill_weight": 0.7}
    student, _, history = train_model(train, val, config, 7, 1, None, verbose=0)
    assert history["teachers"] == 1 and len(history["val_loss"]) == 1
    # the product is the architecture itself, convertible as before: no distillation wrapper, no teacher inside
    plain = build_model(train["x"].shape[1:], len(train["labels"]), config["model"])
    assert type(student) is type(plain) and student.count_params() == plain.count_params()
    config["train"]["teachers"] = -1
    with pytest.raises(PipelineError, match=r"\[train\]: teachers must be an integer >= 0"):
        train_model(train, val, config, 7, 1, None, verbose=0)
