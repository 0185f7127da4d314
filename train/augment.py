"""On-the-fly augmentation of normalized MFCC batches (training split only, so nothing crosses splits)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from typing import Any

import numpy as np
import tf_keras as keras

from data.config import PipelineError

# The keys of ``config.toml [augment]`` (values and their meaning are documented there); 0 disables one.
KEYS = ("time_shift_frames", "gain_std", "noise_std", "time_masks", "time_mask_frames", "coeff_masks",
        "coeff_mask_width", "mixup_alpha")


class MfccAugmenter(keras.utils.Sequence):
    """Shuffled, augmented batches of ``(x, targets)``; a new random draw every epoch, deterministic by seed.

    An epoch visits every original clip ``repeats[i]`` times; each visit takes one of the clip's versions (the
    clip itself or one of its audio-augmented copies) at random, then augments it again in the MFCC domain and,
    with ``mixup_alpha`` > 0, mixes it with another clip of the batch (:func:`mixup`). Targets are class
    probabilities (one-hot, or mixed), for a categorical cross-entropy.

    Parameters
    ----------
    x : np.ndarray, shape (m, frames, coeffs)
        Normalized features of every version.
    y : np.ndarray, shape (m,)
        Class indices.
    num_labels : int
    batch_size : int
    params : dict
        ``config.toml [augment]``: every key of ``KEYS``.
    seed : int
    origin : np.ndarray, shape (m,), optional
        Original clip (0..n-1) each row was made from; every row is its own clip when omitted.
    repeats : np.ndarray, shape (n,), optional
        Visits per epoch of each original clip (oversampling, or weighting down below 1); once each when omitted.
        A fractional part is an extra visit drawn each epoch, so that an epoch keeps its length: ``round(sum of
        the fractions)`` clips, without replacement, with probability proportional to their fraction.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, num_labels: int, batch_size: int, params: dict[str, Any],
                 seed: int, origin: np.ndarray | None = None, repeats: np.ndarray | None = None) -> None:
        super().__init__()
        unknown, missing = sorted(set(params) - set(KEYS)), sorted(set(KEYS) - set(params))
        if unknown or missing:
            raise PipelineError(f"config.toml [augment]: unknown keys {unknown}, missing keys {missing}")
        if float(params["mixup_alpha"]) < 0:
            raise PipelineError(f"config.toml [augment]: mixup_alpha must be >= 0 (0: off), got "
                                f"{params['mixup_alpha']}")
        self.x, self.batch_size = x, batch_size
        self.targets = keras.utils.to_categorical(y, num_labels).astype(np.float32)
        self.p = dict(params)
        self.rng = np.random.default_rng(seed)
        origin = np.arange(len(x)) if origin is None else np.asarray(origin)
        n = int(origin.max()) + 1
        # Rows grouped by original clip: the versions of clip i are rows_sorted[start[i]:start[i] + count[i]].
        self.rows_sorted = np.argsort(origin, kind="stable")
        self.count = np.bincount(origin, minlength=n)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        weights = np.ones(n) if repeats is None else np.asarray(repeats, np.float64)
        whole = np.floor(weights).astype(np.int64)
        self.visits = np.repeat(np.arange(n), whole)
        self.fraction = weights - whole
        self.extra = int(round(self.fraction.sum()))
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil((len(self.visits) + self.extra) / self.batch_size))

    def on_epoch_end(self) -> None:
        visits = self.visits
        if self.extra:
            drawn = self.rng.choice(len(self.fraction), self.extra, replace=False,
                                    p=self.fraction / self.fraction.sum())
            visits = np.concatenate([visits, drawn])
        clips = self.rng.permutation(visits)
        self.order = self.rows_sorted[self.start[clips] + self.rng.integers(0, self.count[clips])]

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        x = augment_batch(self.x[idx], self.p, self.rng)
        if self.p["mixup_alpha"]:
            return mixup(x, self.targets[idx], float(self.p["mixup_alpha"]), self.rng)
        return x, self.targets[idx]


def mixup(x: np.ndarray, targets: np.ndarray, alpha: float,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mix every clip of a batch with another one of it, features and targets alike (mixup, Zhang et al. 2018).

    The share of a clip's own content is ``max(w, 1 - w)`` with ``w ~ Beta(alpha, alpha)``, so every mixed clip is
    still mostly itself. Measured (float, leave-one-speaker-out, one seed): alpha 0.4, +3.4 points on unseen real
    speakers (README).

    Parameters
    ----------
    x : np.ndarray, shape (b, frames, coeffs)
    targets : np.ndarray, shape (b, labels)
        Class probabilities.
    alpha : float
        > 0.
    rng : np.random.Generator

    Returns
    -------
    x, targets : np.ndarray
        New arrays of the same shapes; each target row still sums to 1.
    """
    own = rng.beta(alpha, alpha, len(x)).astype(np.float32)
    own = np.maximum(own, 1 - own)
    partner = rng.permutation(len(x))
    return (own[:, None, None] * x + (1 - own[:, None, None]) * x[partner],
            own[:, None] * targets + (1 - own[:, None]) * targets[partner])


def augment_batch(x: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Augment a batch of normalized MFCCs, shape (b, frames, coeffs); returns a new array."""
    x = x.copy()
    b, frames, coeffs = x.shape
    for j in range(b):
        if p["time_shift_frames"]:
            x[j] = np.roll(x[j], int(rng.integers(-p["time_shift_frames"], p["time_shift_frames"] + 1)), axis=0)
        for _ in range(p["time_masks"]):
            w = int(rng.integers(0, p["time_mask_frames"] + 1))
            t0 = int(rng.integers(0, frames - w + 1))
            x[j, t0:t0 + w] = 0.0
        for _ in range(p["coeff_masks"]):
            w = int(rng.integers(0, p["coeff_mask_width"] + 1))
            c0 = int(rng.integers(0, coeffs - w + 1))
            x[j, :, c0:c0 + w] = 0.0
    if p["gain_std"]:
        x[:, :, 0] += rng.normal(0, p["gain_std"], (b, 1)).astype(np.float32)
    if p["noise_std"]:
        x += rng.normal(0, p["noise_std"], x.shape).astype(np.float32)
    return x
