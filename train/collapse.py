"""Collapse check: a classifier that predicts (nearly) one class or constant scores must fail loudly."""
from __future__ import annotations

import numpy as np

from data.config import PipelineError

# Normalized entropy of the prediction histogram below this means most clips get the same few labels.
MIN_PREDICTION_ENTROPY = 0.5
# No class may absorb more than this multiple of its fair share of predictions (capped at 90 %).
MAX_SHARE_FACTOR = 3.0
# Scores whose top value barely moves across clips are "near-constant", like the ~0.49-for-everything failure.
MIN_TOP_SCORE_STD = 1e-3


def prediction_stats(scores: np.ndarray) -> dict:
    """Histogram, normalized entropy and top-score spread of a batch of predictions.

    Parameters
    ----------
    scores : np.ndarray, shape (n_clips, n_labels)

    Returns
    -------
    dict
        ``histogram`` (list of counts per label), ``entropy`` (0..1), ``max_share``, ``top_score_std``.
    """
    n, k = scores.shape
    hist = np.bincount(scores.argmax(axis=1), minlength=k)
    p = hist / max(n, 1)
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum() / np.log(k))
    return {"histogram": hist.tolist(), "entropy": entropy, "max_share": float(p.max()),
            "top_score_std": float(scores.max(axis=1).std())}


def check_collapse(scores: np.ndarray, what: str) -> dict:
    """Raise ``PipelineError`` when predictions collapsed; returns :func:`prediction_stats` otherwise."""
    stats = prediction_stats(scores)
    k = scores.shape[1]
    max_share = min(0.9, MAX_SHARE_FACTOR / k)
    if stats["entropy"] < MIN_PREDICTION_ENTROPY:
        raise PipelineError(f"{what}: model collapsed: prediction entropy {stats['entropy']:.2f} < "
                            f"{MIN_PREDICTION_ENTROPY} (histogram {stats['histogram']})")
    if stats["max_share"] > max_share:
        raise PipelineError(f"{what}: model collapsed: one class takes {stats['max_share']:.0%} of predictions "
                            f"(limit {max_share:.0%}; histogram {stats['histogram']})")
    if stats["top_score_std"] < MIN_TOP_SCORE_STD:
        raise PipelineError(f"{what}: model collapsed: near-constant scores (std of top score "
                            f"{stats['top_score_std']:.1e})")
    return stats


# A regression model whose predictions vary by less than this fraction of the targets' spread gives one value for
# everything: the regression form of a collapse.
MIN_PREDICTION_SPREAD = 0.05


def check_constant_output(pred: np.ndarray, targets: np.ndarray, what: str) -> dict:
    """Raise ``PipelineError`` when regression predictions (n,) are near-constant against the targets (n,);
    returns their spread otherwise."""
    spread, target_spread = float(np.std(pred)), float(np.std(targets))
    if spread < MIN_PREDICTION_SPREAD * target_spread:
        raise PipelineError(f"{what}: model collapsed: predictions vary by {spread:.3g} (std) against targets "
                            f"varying by {target_spread:.3g}: one value for everything")
    return {"prediction_std": spread, "target_std": target_spread}
