"""Collapse check: a classifier that predicts (nearly) one class or constant scores must fail loudly."""
from __future__ import annotations

import numpy as np

from data.config import PipelineError

# Normalized entropy of the prediction histogram below this fraction of the true labels' entropy means most clips
# get the same few labels (0.5 of a balanced split's 1.0).
MIN_PREDICTION_ENTROPY = 0.5
# No class may absorb more than this multiple of its fair share of predictions (capped at 90 % when the true labels
# are balanced; a class that is more of the truth may take proportionally more).
MAX_SHARE_FACTOR = 3.0
# Scores whose top value barely moves across clips are "near-constant", like the ~0.49-for-everything failure.
MIN_TOP_SCORE_STD = 1e-3


def _entropy(counts: np.ndarray) -> float:
    """Entropy of a histogram, normalized by its maximum (0: one class, 1: uniform)."""
    p = counts / max(int(counts.sum()), 1)
    nz = p[p > 0]
    return max(0.0, float(-(nz * np.log(nz)).sum() / np.log(len(counts))))  # no "-0.00" for one class


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
    return {"histogram": hist.tolist(), "entropy": _entropy(hist), "max_share": float(hist.max() / max(n, 1)),
            "top_score_std": float(scores.max(axis=1).std())}


def check_collapse(scores: np.ndarray, what: str, truth: np.ndarray) -> dict:
    """Raise ``PipelineError`` when predictions collapsed, judged against the true labels: they concentrate on
    fewer classes than the truth does, or their top score is near-constant although the truth holds several
    classes. A right model on a one-class split is never called collapsed. Returns :func:`prediction_stats`
    with the true labels' histogram and entropy otherwise.

    Parameters
    ----------
    scores : np.ndarray, shape (n_clips, n_labels)
    what : str
        Names the predictions in the error line.
    truth : np.ndarray, shape (n_clips,), int
        The true label of each clip.
    """
    stats = prediction_stats(scores)
    k = scores.shape[1]
    true_hist = np.bincount(np.asarray(truth, np.int64), minlength=k)
    true_entropy = _entropy(true_hist)
    stats |= {"true_histogram": true_hist.tolist(), "true_entropy": true_entropy}
    shown = f"histogram {stats['histogram']}, true labels {true_hist.tolist()}"
    min_entropy = MIN_PREDICTION_ENTROPY * true_entropy
    if stats["entropy"] < min_entropy:
        raise PipelineError(f"{what}: model collapsed: prediction entropy {stats['entropy']:.2f} < {min_entropy:.2f} "
                            f"({MIN_PREDICTION_ENTROPY} of the true labels' {true_entropy:.2f}; {shown})")
    base = min(0.9, MAX_SHARE_FACTOR / k)
    limits = np.minimum(1.0, np.maximum(base, base * k * true_hist / max(int(true_hist.sum()), 1)))
    shares = np.asarray(stats["histogram"]) / max(len(scores), 1)
    worst = int(np.argmax(shares - limits))
    if shares[worst] > limits[worst]:
        raise PipelineError(f"{what}: model collapsed: class {worst} takes {shares[worst]:.0%} of predictions "
                            f"(limit {limits[worst]:.0%}; {shown})")
    if np.count_nonzero(true_hist) > 1 and stats["top_score_std"] < MIN_TOP_SCORE_STD:
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
