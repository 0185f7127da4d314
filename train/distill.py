"""Knowledge distillation: one model learns from the averaged scores of several teacher models and from the labels.

Averaging the scores of models trained on other seeds helped on unseen real speakers before mixup and label
smoothing (see the README), but several models do not fit the board; distillation moves part of that gain into one
model of the product's size. Only training changes: the student is an ordinary model of the configured
architecture.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from typing import Any

import tensorflow as tf
import tf_keras as keras

from data.config import PipelineError


class Distiller(keras.Model):
    """Trains ``student`` on ``weight`` x cross-entropy against the teachers' mean scores plus ``1 - weight`` x
    cross-entropy against the labels; predicts (and validates) with the student alone.

    Parameters
    ----------
    student : tf_keras.Model
        ``(batch, frames, coeffs) -> (batch, labels)`` softmax scores; its weights are the ones trained.
    teachers : list of tf_keras.Model
        Trained models with the student's input and output shapes; never updated.
    weight : float
        In [0, 1]: 0 is plain training on the labels, 1 learns from the teachers only.
    """

    def __init__(self, student: Any, teachers: list[Any], weight: float) -> None:
        super().__init__()
        if not teachers or not 0.0 <= weight <= 1.0:
            raise PipelineError(f"distillation needs >= 1 teacher and a weight in [0, 1], got {len(teachers)} "
                                f"teacher(s) and weight {weight}")
        self.student = student
        # Set past Keras' attribute tracking: the teachers' weights never join the trained (or saved) ones.
        object.__setattr__(self, "_teachers", tuple(teachers))
        self.weight = float(weight)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.student(x, training=training)

    def train_step(self, data: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
        x, y = data
        soft = tf.add_n([t(x, training=False) for t in self._teachers]) / len(self._teachers)
        with tf.GradientTape() as tape:
            scores = self.student(x, training=True)
            # The compiled loss (labels) is what the history reports as "loss", as in plain training, and what
            # validation (the student alone) reports as "val_loss" for early stopping.
            label_loss = self.compiled_loss(y, scores)
            soft_loss = tf.reduce_mean(keras.losses.categorical_crossentropy(tf.stop_gradient(soft), scores))
            loss = self.weight * soft_loss + (1.0 - self.weight) * label_loss
        self.optimizer.minimize(loss, self.student.trainable_variables, tape=tape)
        return self.compute_metrics(x, y, scores, None)
