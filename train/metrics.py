"""Metrics of a model's outputs that the later stages share (NumPy only: no TensorFlow is loaded for them).

Regression scores (``mse``, ``mae``, ``r2``) and per-recording scores of a windowed split (:mod:`data.windows`: a
recording's scores are the mean of its windows' probabilities), with the collapse check on them.
"""
from __future__ import annotations

import numpy as np

from train.collapse import check_collapse


def regression_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """``mse``, ``mae``, ``r2`` (1 - residual / total sum of squares; 0 for a constant prediction of the mean) of
    predictions ``pred`` against targets ``y`` (both (n,))."""
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64).reshape(-1)
    err = pred - y
    total = float(np.sum((y - y.mean()) ** 2))
    return {"mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err))),
            "r2": 1.0 - float(np.sum(err ** 2)) / total if total > 0 else 0.0}


def recording_means(probs: np.ndarray, recordings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean window probabilities per recording.

    Parameters
    ----------
    probs : np.ndarray, shape (n_windows, labels)
    recordings : np.ndarray, shape (n_windows,), str

    Returns
    -------
    first : np.ndarray, shape (n_recordings,)
        Row of each recording's first window (recordings in order of first appearance).
    means : np.ndarray, shape (n_recordings, labels), float32
    """
    names, first, inverse = np.unique(recordings, return_index=True, return_inverse=True)
    order = np.argsort(first)  # recordings in file order, not alphabetical
    sums = np.zeros((len(names), probs.shape[1]), np.float64)
    np.add.at(sums, inverse, probs)
    means = sums / np.bincount(inverse, minlength=len(names))[:, None]
    return first[order], means[order].astype(np.float32)


def check_recording_collapse(probs: np.ndarray, recordings: np.ndarray, what: str) -> dict:
    """The collapse check (:func:`train.collapse.check_collapse`) on per-recording scores: a model that gives every
    recording the same score (e.g. 0.4865 for everything) is refused in one line."""
    return check_collapse(recording_means(probs, recordings)[1], f"{what}, per recording")
