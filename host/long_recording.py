"""A long test recording for continuous recognition, built at run time (never committed): held-out spoken digits
separated by stretches of background noise and silence, with the ground-truth time of every word.

Words: the test split's digit clips (speakers the model never trained on) and, when present, the real speakers of
Speech Commands' digits in ``../shared`` that the model did not train on. Each word is cut to its
voiced part (``TRIM_DB`` below its loudest frame), scaled to a random peak level and placed after a gap of
``GAP_S`` seconds. The background bed runs under everything: excerpts of the held-out part of the background-noise
recordings (the last ``1 - TRAIN_NOISE_FRACTION`` of each file, which the ``_silence_`` class never trains on),
generated white/pink/brown noise and near-digital silence, each at a random level.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from data.augment_audio import colored_noise
from data.config import PipelineError
from data.datasets import DIGITS, load_folder
from data.features import read_audio
from data.nothing import HELDOUT_NOISE_DIR, noise_recordings
from data.synth import write_wav

SPEECH_COMMANDS_DIGITS = HELDOUT_NOISE_DIR.parent
# Gap between words (uniform, seconds): longer than the refractory period plus a window, so that each word can be
# heard on its own.
GAP_S = (1.5, 4.0)
# Peak level of a word (uniform in dB below full scale) and RMS level of the background bed segments.
WORD_PEAK_DB = (-18.0, -2.0)
BED_RMS_DB = (-65.0, -40.0)
# Background bed segments last this long (uniform, seconds).
BED_SEGMENT_S = (2.0, 6.0)
# A word's span: from its first to its last frame within this many dB of its loudest frame.
TRIM_DB = 25.0


def word_pool(test_ids: list[str], labels: list[str], shared: Path = SPEECH_COMMANDS_DIGITS,
              trained: frozenset[str] = frozenset()) -> list[tuple[Path, str]]:
    """Held-out digit clips: the test split's files whose label is a digit, plus Speech Commands' digits when the
    shared copy exists, but none of a speaker in ``trained`` (the model's training sources: the default dataset trains
    on part of those speakers). (resolved path, label) pairs, sorted by label and file name (then path): the same
    clips give the same pool from any build, wherever the clone is."""
    pool = [(Path(p).resolve(), lab) for p, lab in zip(test_ids, labels) if lab in DIGITS]
    if shared.is_dir():
        pool += [(c.path.resolve(), c.label) for c in load_folder(shared, DIGITS) if c.source not in trained]
    if not pool:
        raise PipelineError("no held-out digit clips for the long recording (is the test split empty?)")
    return sorted(pool, key=lambda item: (item[1], item[0].name, str(item[0])))


def bed(n: int, rate: int, noises: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of background: consecutive segments of real noise, generated noise or near-silence."""
    out = np.zeros(n, np.float32)
    pos = 0
    while pos < n:
        m = min(n - pos, int(rng.uniform(*BED_SEGMENT_S) * rate))
        kind = int(rng.integers(3))
        if kind == 0 and noises:
            src = noises[int(rng.integers(len(noises)))]
            start = int(rng.integers(0, max(1, len(src) - m)))
            seg = np.resize(src[start:start + m], m).astype(np.float64)
        else:
            seg = colored_noise(m, float(rng.choice((0.0, 1.0, 2.0))), rng)
        db = BED_RMS_DB[0] - 20.0 if kind == 2 else rng.uniform(*BED_RMS_DB)  # near-silence 20 dB below the quietest
        seg = seg / (np.sqrt(np.mean(seg ** 2)) + 1e-12) * 10 ** (db / 20)
        out[pos:pos + m] = seg
        pos += m
    return out


def voiced(audio: np.ndarray, rate: int) -> np.ndarray:
    import librosa

    trimmed, _ = librosa.effects.trim(audio, top_db=TRIM_DB, frame_length=rate // 40, hop_length=rate // 100)
    return trimmed


def build_recording(out: Path, pool: list[tuple[Path, str]], words: int, rate: int, seed: int,
                    noise_dir: Path = HELDOUT_NOISE_DIR) -> dict[str, Any]:
    """Write ``out`` (16-bit mono WAV) with ``words`` digits drawn from ``pool``, and ``out`` with suffix ``.json``
    (the ground truth). Returns the truth: ``rate``, ``duration_s``, ``words`` (``label``, ``onset_ms``,
    ``offset_ms``, ``source``)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(pool), size=words, replace=words > len(pool))
    clips, pos, truth = [], 0, []
    for i in picks:
        path, label = pool[int(i)]
        word = voiced(read_audio(path, rate), rate)
        word = word / (np.abs(word).max() + 1e-12) * 10 ** (rng.uniform(*WORD_PEAK_DB) / 20)
        pos += int(rng.uniform(*GAP_S) * rate)
        clips.append((pos, word))
        truth.append({"label": label, "onset_ms": pos * 1000 // rate, "offset_ms": (pos + len(word)) * 1000 // rate,
                      "source": str(path)})
        pos += len(word)
    n = pos + int(GAP_S[1] * rate)
    audio = bed(n, rate, noise_recordings(noise_dir, rate, "test"), rng)
    for start, word in clips:
        audio[start:start + len(word)] += word
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16), rate)
    meta = {"rate": rate, "duration_s": n / rate, "seed": seed, "words": truth}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta
