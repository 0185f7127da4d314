"""Continuous recognition on the host: the mirror of the firmware's ``RecognizeCommands``
(``firmware/src/listen/recognize_commands.cc``, same decisions on the same scores, float32 like the board), the
stream of a recording through the host pipeline (the model's front end, int8 input, TFLM) and the scoring of
detections against ground truth (hits, misses, false alarms per hour).

Settings come from ``config.toml [recognition]``; the firmware's copy is ``firmware/src/listen/recognition_settings.h``
(kept equal by ``tests/test_recognize.py``).
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from data.config import PipelineError, load_config
from data.nothing import is_nothing

# A detection counts for a word when it comes at most this long after the word's end: the window that ends at the
# word's end still has to be averaged with the next ones (minimum_count windows, evaluate_every_ms apart).
MATCH_AFTER_MS = 1500
# The firmware's detection line: "# heard <label> <score> at <ms>".
HEARD_LINE = re.compile(r"^# heard (\S+) (\d+\.\d\d) at (\d+)$")


@dataclass(frozen=True)
class RecognitionSettings:
    window_ms: int
    evaluate_every_ms: int
    average_window_ms: int
    minimum_count: int
    threshold: float
    refractory_ms: int

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> "RecognitionSettings":
        return cls(**(config or load_config())["recognition"])


@dataclass(frozen=True)
class Recognition:
    heard: bool
    label: int  # top label of the average; -1 while too few results
    score: float


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    time_ms: int


class RecognizeCommands:
    """The firmware's ``RecognizeCommands``, decision for decision: results newer than ``average_window_ms`` (at
    least ``minimum_count``) are averaged in float32 in the same order, a label not starting with ``_`` whose average
    reaches ``threshold`` is heard, then nothing for ``refractory_ms``."""

    MAX_RESULTS = 16  # the firmware's kMaxResults

    def __init__(self, settings: RecognitionSettings, labels: list[str]) -> None:
        self.s = settings
        self.labels = list(labels)
        self.results: deque[tuple[int, np.ndarray]] = deque()
        self.last_detection: int | None = None
        self.last_time: int | None = None

    def process(self, probabilities: np.ndarray, time_ms: int) -> Recognition:
        probs = np.asarray(probabilities, np.float32)
        if probs.shape != (len(self.labels),):
            raise PipelineError(f"recognizer: {probs.shape} scores for {len(self.labels)} labels")
        if self.last_time is not None and time_ms < self.last_time:
            raise PipelineError(f"recognizer: time went backwards ({time_ms} ms after {self.last_time} ms)")
        self.last_time = time_ms
        if len(self.results) == self.MAX_RESULTS:
            self.results.popleft()
        self.results.append((time_ms, probs))
        while len(self.results) > 1 and time_ms - self.results[0][0] >= self.s.average_window_ms:
            self.results.popleft()
        if len(self.results) < self.s.minimum_count:
            return Recognition(False, -1, 0.0)
        total = np.zeros(len(self.labels), np.float32)
        for _, p in self.results:
            total = (total + p).astype(np.float32)
        average = (total / np.float32(len(self.results))).astype(np.float32)
        top = int(np.argmax(average))  # the first of equal maxima, as the firmware's strict '>'
        score = float(average[top])
        refractory = self.last_detection is not None and time_ms - self.last_detection < self.s.refractory_ms
        heard = (not is_nothing(self.labels[top]) and not refractory
                 and average[top] >= np.float32(self.s.threshold))
        if heard:
            self.last_detection = time_ms
        return Recognition(heard, top, score)


def window_ends(num_samples: int, rate: int, s: RecognitionSettings) -> range:
    """Sample indices at which the evaluated windows end: every ``evaluate_every_ms`` from the first full window to
    the end of the recording (the firmware's listen loop evaluates the same windows)."""
    window, hop = rate * s.window_ms // 1000, rate * s.evaluate_every_ms // 1000
    return range(window, num_samples + 1, hop)


def stream(audio: np.ndarray, rt: Any, settings: RecognitionSettings, backend: str = "tflm") -> list[Detection]:
    """Detections in a recording through the host pipeline: every window's MFCCs with the model's front end
    (:func:`data.features.mfcc`), its int8 input, ``backend``'s scores as probabilities (zeros for a window that
    :func:`data.features.is_tone`), :class:`RecognizeCommands`.

    Parameters
    ----------
    audio : np.ndarray, shape (n,), float32 at the model's sample rate
    rt : host.runtime.Runtime
    """
    from data.features import is_tone, mfcc

    rate = rt.params.sample_rate
    window = rate * settings.window_ms // 1000
    recognizer = RecognizeCommands(settings, rt.labels)
    out = []
    for end in window_ends(len(audio), rate, settings):
        x_raw = mfcc(audio[end - window:end], rt.params)[None]
        probs = rt.probabilities(backend, rt.scores(backend, x_raw))[0]
        if is_tone(audio[end - window:end], rt.params):  # no word in it: it enters the average as nothing, as on
            probs = np.zeros_like(probs)                 # the device (firmware/src/listen)
        time_ms = end * 1000 // rate
        r = recognizer.process(probs, time_ms)
        if r.heard:
            out.append(Detection(rt.labels[r.label], r.score, time_ms))
    return out


def parse_heard(lines: Iterable[str]) -> list[Detection]:
    """The firmware's ``# heard <label> <score> at <ms>`` lines (other lines ignored)."""
    out = []
    for line in lines:
        m = HEARD_LINE.match(line.strip())
        if m:
            out.append(Detection(m.group(1), float(m.group(2)), int(m.group(3))))
    return out


def score_detections(detections: list[Detection], truth: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    """Detections against the ground truth of a recording.

    A detection is a hit when it names a word not yet hit whose span ``[onset_ms, offset_ms + MATCH_AFTER_MS]``
    holds its time; any other detection is a false alarm (``wrong_label`` of them fall in a word's span under another
    label). Every word without a hit is a miss.

    Parameters
    ----------
    truth : list of dict
        ``label``, ``onset_ms``, ``offset_ms`` per spoken word, in time order.
    """
    hit = [False] * len(truth)
    false_alarms = wrong = 0
    for d in detections:
        spans = [i for i, w in enumerate(truth) if w["onset_ms"] <= d.time_ms <= w["offset_ms"] + MATCH_AFTER_MS]
        match = next((i for i in spans if truth[i]["label"] == d.label and not hit[i]), None)
        if match is None:
            false_alarms += 1
            wrong += any(truth[i]["label"] != d.label for i in spans)
        else:
            hit[match] = True
    hours = duration_s / 3600
    hits = sum(hit)
    return {"words": len(truth), "detections": len(detections), "hits": hits, "misses": len(truth) - hits,
            "false_alarms": false_alarms, "false_alarms_wrong_label": wrong,
            "hit_rate": hits / len(truth) if truth else 0.0, "hours": hours,
            "false_alarms_per_hour": false_alarms / hours if hours else 0.0}
