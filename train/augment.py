"""On-the-fly augmentation of normalized MFCC batches (training split only, so nothing crosses splits)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from typing import Any

import numpy as np
import tf_keras as keras

# Defaults of ``config.toml [augment]``; 0 disables an augmentation.
DEFAULTS = {
    "time_shift_frames": 10,  # roll the clip by up to this many frames (speech onset varies)
    "gain_std": 0.3,  # std of an offset added to normalized c0 (loudness)
    "noise_std": 0.05,  # std of gaussian noise on every normalized coefficient
    "time_masks": 2,  # SpecAugment: masks of up to `time_mask_frames` frames
    "time_mask_frames": 8,
    "coeff_masks": 1,  # SpecAugment: masks of up to `coeff_mask_width` coefficients
    "coeff_mask_width": 2,
}


class MfccAugmenter(keras.utils.Sequence):
    """Shuffled, augmented batches of ``(x, y)``; a new random draw every epoch, deterministic by seed.

    An epoch visits every original clip ``repeats[i]`` times; each visit takes one of the clip's versions (the
    clip itself or one of its audio-augmented copies) at random, then augments it again in the MFCC domain.

    Parameters
    ----------
    x : np.ndarray, shape (m, frames, coeffs)
        Normalized features of every version.
    y : np.ndarray, shape (m,)
    batch_size : int
    params : dict
        Overrides of ``DEFAULTS``.
    seed : int
    origin : np.ndarray, shape (m,), optional
        Original clip (0..n-1) each row was made from; every row is its own clip when omitted.
    repeats : np.ndarray, shape (n,), optional
        Visits per epoch of each original clip (oversampling); once each when omitted.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, params: dict[str, Any], seed: int,
                 origin: np.ndarray | None = None, repeats: np.ndarray | None = None) -> None:
        super().__init__()
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            from data.config import PipelineError

            raise PipelineError(f"config.toml [augment]: unknown keys {sorted(unknown)}")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.p = DEFAULTS | params
        self.rng = np.random.default_rng(seed)
        origin = np.arange(len(x)) if origin is None else np.asarray(origin)
        n = int(origin.max()) + 1
        # Rows grouped by original clip: the versions of clip i are rows_sorted[start[i]:start[i] + count[i]].
        self.rows_sorted = np.argsort(origin, kind="stable")
        self.count = np.bincount(origin, minlength=n)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        self.visits = np.repeat(np.arange(n), np.ones(n, np.int64) if repeats is None else repeats)
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.visits) / self.batch_size))

    def on_epoch_end(self) -> None:
        clips = self.rng.permutation(self.visits)
        self.order = self.rows_sorted[self.start[clips] + self.rng.integers(0, self.count[clips])]

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return augment_batch(self.x[idx], self.p, self.rng), self.y[idx]


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
