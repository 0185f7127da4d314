"""Fixtures built by the tests of other audio tasks: synthetic long recordings (two voices reading sentences) and
clips with a regression target that is a known function of the audio."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from data.datasets import split_of
from data.synth import Espeak, Speaker, write_wav

# Two clearly different espeak-ng speakers: "me" (low male voice) and "mom" (high female voice), same rate.
VOICES = {"me": Speaker("en+m3", rate=200, pitch=30, pitch_range=40),
          "mom": Speaker("en-us+f2", rate=200, pitch=75, pitch_range=60)}
SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every summer morning.",
    "A journey of a thousand miles begins with a single small step.",
    "The weather today is cloudy with a chance of rain in the evening.",
    "Please remember to buy milk, bread and eggs on the way home.",
    "Reading aloud every day helps children learn new words quickly.",
    "The train to the city leaves at half past seven from platform two.",
    "Our garden is full of roses, tulips and bright yellow sunflowers.",
    "He carefully packed his bag before the long trip to the mountains.",
    "Music can change the mood of a room in just a few seconds.",
]


def two_voice_recordings(root: Path, per_split: dict[str, int], val_percent: int, test_percent: int,
                         seed: int = 7, per_voice: dict[str, dict[str, int]] | None = None) -> Path:
    """``root/<voice>/<voice>-reading-<n>.wav``: each of the two voices reads 2-3 sentences per recording (5-10 s).

    Every recording is its own source; names are taken in order, keeping those whose hash (:func:`split_of`) puts
    them in a split that still needs recordings, so that the hash split would give every split ``per_split[split]``
    recordings of each voice (``per_voice[voice][split]`` where given) with the configuration's percentages.
    """
    rng = random.Random(seed)
    with Espeak() as espeak:
        for voice, speaker in VOICES.items():
            (root / voice).mkdir(parents=True, exist_ok=True)
            need = dict((per_voice or {}).get(voice, per_split))
            n = 0
            while any(need.values()):
                name = f"{voice}-reading-{n}"
                n += 1
                split = split_of(name, val_percent, test_percent)
                if not need[split]:
                    continue
                need[split] -= 1
                text = " ".join(rng.sample(SENTENCES, rng.choice((2, 3))))
                samples, rate = espeak.say(speaker, text)
                write_wav(root / voice / f"{name}.wav", samples, rate)
    return root


def seconds_of(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / info.samplerate


def tone_clips(root: Path, n: int, seed: int = 3, rate: int = 16000) -> tuple[Path, Path]:
    """``root/clips/clip-<i>.wav``: 1 s of a voiced-like sound (harmonics with a syllable envelope) at a random
    pitch of 120-400 Hz, and ``root/targets.csv`` (``file,value``) whose value is that pitch in hundreds of Hz: a
    target the audio determines."""
    rng = np.random.default_rng(seed)
    folder = root / "clips"
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(rate) / rate
    rows = ["file,value"]
    for i in range(n):
        f0 = float(rng.uniform(120, 400))
        wave = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
        envelope = np.clip(np.sin(np.pi * t * rng.uniform(2.0, 4.0)), 0, None) ** 2  # syllables: not a steady tone
        audio = 0.3 * wave * envelope + rng.normal(0, 0.003, rate)
        write_wav(folder / f"clip-{i}.wav", np.round(audio * 32767 / 1.5).astype(np.int16), rate)
        rows.append(f"clip-{i}.wav,{f0 / 100:.4f}")
    (root / "targets.csv").write_text("\n".join(rows) + "\n")
    return folder, root / "targets.csv"
