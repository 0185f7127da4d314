"""What every host surface shows for a clip: the word, "not a word" or "low confidence", never a bare label for a
sound that is no word (``data/nothing.py``: the rule; the board's INFER/HEAR replies carry the same ``answer=``).

The int8 backends (and the device) decide as the board does, by ``min_word_score`` (the int8 score of a word), the
float model by ``min_confidence`` (both in ``model_meta.json``'s ``answer``).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from data.nothing import ANSWERS, LOW_CONFIDENCE, NOT_A_WORD, WORD, answer

# How each answer is printed: the word itself, or why there is none.
SHOWN = {NOT_A_WORD: "not a word", LOW_CONFIDENCE: "low confidence"}


@dataclass(frozen=True)
class Answer:
    """One clip's answer: its top ``label``, that label's ``probability`` and ``kind`` (one of ``ANSWERS``);
    ``tone`` when the front end heard a tone or glide (:func:`data.features.is_tone`: no word, whatever the model)."""

    label: str
    probability: float
    kind: str
    tone: bool = False

    def __str__(self) -> str:
        """``seven``, ``not a word (_silence_ 0.91)``, ``not a word (a tone; seven 0.62)`` or ``low confidence
        (seven 0.42)``."""
        if self.kind == WORD:
            return self.label
        return f"{SHOWN[self.kind]} ({'a tone; ' if self.tone else ''}{self.label} {self.probability:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.kind, "label": self.label, "probability": round(self.probability, 4),
                **({"tone": True} if self.tone else {})}


def min_probability(rt: Any, backend: str) -> np.float32:
    """The lowest probability of a word on ``backend``: the float model's ``min_confidence``; for the int8 backends
    the probability of ``min_word_score``, so that comparing dequantized scores decides exactly as the board
    compares int8 scores (``inf`` when no score is a word)."""
    from host.runtime import INT8_BACKENDS

    rule = rt.meta["answer"]
    if backend not in INT8_BACKENDS:
        return np.float32(rule["min_confidence"])
    if rule["min_word_score"] > 127:
        return np.float32(np.inf)
    return rt.probabilities(backend, np.array([[rule["min_word_score"]]], np.int8))[0, 0]


def answers(rt: Any, backend: str, probs: np.ndarray, tones: Sequence[bool] | None = None) -> list[Answer]:
    """The answers to clips whose ``backend`` probabilities (n, labels) are ``probs`` (int8 scores dequantized, the
    float model's softmax, or a recording's mean over its windows), with the rule of ``rt``'s model (a
    :class:`host.runtime.Runtime`); a clip whose ``tones`` entry is true (a tone or glide) is not a word."""
    probs = np.asarray(probs, np.float32)
    lowest = min_probability(rt, backend)
    tones = [False] * len(probs) if tones is None else list(tones)
    if len(tones) != len(probs):
        raise ValueError(f"{len(tones)} tone flags for {len(probs)} clips")
    out = []
    for p, tone in zip(probs, tones):
        top = int(np.argmax(p))  # the first of equal maxima, as the board
        kind = NOT_A_WORD if tone else answer(rt.labels[top], bool(p[top] >= lowest))
        out.append(Answer(rt.labels[top], float(p[top]), kind, tone))
    return out


def file_is_tone(path: Path, params: Any) -> bool:
    """Whether the WAV file at ``path`` (already checked: it reads) is a tone or glide for a model whose front end
    has :class:`data.features.FeatureParams` ``params``."""
    from data.features import is_tone, read_audio

    return is_tone(read_audio(path, params.sample_rate), params)


def answer_counts(found: list[Answer]) -> dict[str, int]:
    """How many clips got each answer (every one of ``ANSWERS``, zeros included)."""
    counts = Counter(a.kind for a in found)
    return {kind: counts[kind] for kind in ANSWERS}


def counts_text(counts: dict[str, int]) -> str:
    """``440 words, 6 not a word, 3 low confidence``."""
    return ", ".join(f"{n} {'words' if kind == WORD else SHOWN[kind]}" for kind, n in counts.items())
