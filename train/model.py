"""The model, built from ``config.toml [model]``; tf_keras (Keras 2) so the LSTM converts to fused TFLite ops."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from typing import Any

from data.config import PipelineError

ARCHITECTURES = ("bilstm", "lstm", "gru", "simplernn", "simplernn_ln")


def build_model(input_shape: tuple[int, int], num_labels: int, model_cfg: dict[str, Any],
                architecture: str = "bilstm", batch_size: int | None = None) -> Any:
    """A recurrent classifier ``(frames, coeffs) -> softmax over labels``.

    Parameters
    ----------
    input_shape : (num_frames, num_mfcc)
    num_labels : int
    model_cfg : dict
        ``lstm_units`` (per direction), ``dense_units`` (0: none), ``dropout``.
    architecture : str
        ``bilstm`` (the product) or one of the comparison baselines in ``ARCHITECTURES``.
    batch_size : int, optional
        Fixed batch size (1 for conversion to TFLite: TFLM needs static shapes).
    """
    import tf_keras as keras

    if architecture not in ARCHITECTURES:
        raise PipelineError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    units = int(model_cfg["lstm_units"])
    if units <= 0 or num_labels < 2:
        raise PipelineError(f"model needs lstm_units > 0 and >= 2 labels, got {units} and {num_labels}")
    inp = keras.Input(shape=input_shape, batch_size=batch_size, name="mfcc")
    if architecture == "bilstm":
        x = keras.layers.Bidirectional(keras.layers.LSTM(units), name="bilstm")(inp)
    elif architecture == "lstm":
        x = keras.layers.LSTM(2 * units, name="lstm")(inp)
    elif architecture == "gru":
        x = keras.layers.GRU(2 * units, name="gru")(inp)
    else:
        x = keras.layers.SimpleRNN(2 * units, name="rnn")(inp)
        if architecture == "simplernn_ln":
            x = keras.layers.LayerNormalization(name="ln")(x)
    x = keras.layers.Dropout(float(model_cfg["dropout"]))(x)
    if int(model_cfg.get("dense_units", 0)) > 0:
        x = keras.layers.Dense(int(model_cfg["dense_units"]), activation="relu", name="dense_hidden")(x)
    out = keras.layers.Dense(num_labels, activation="softmax", name="scores")(x)
    return keras.Model(inp, out, name=architecture)
