"""Sounds that are no word, for measuring how a model says "nothing" (``make evaluate DATA=<folder>``).

    python -m experiments.nonspeech --out build/nonspeech [--per-kind 40] [--seed 5]

Writes ``<out>/_<kind>_/<kind>_<n>.wav`` (16 kHz, 16-bit mono), generated from a seed (no recording): every kind is a
sound people make at a microphone, or a test signal, that a digit model has never been trained on:

* ``tone``: a sine (150 Hz-3 kHz, log-uniform; one in four exactly 440 Hz) of 0.3-1.5 s with 10-100 ms fades;
* ``sweep``: a sine gliding between two frequencies of that range;
* ``burst``: white, pink or brown noise of 0.1-0.6 s with a fast attack and decay;
* ``click``: one to six clicks or claps (2-40 ms of exponentially decaying noise) at random times;
* ``music``: three to eight notes (100-400 ms each) of a harmonic instrument (110-880 Hz, 3-8 partials), sometimes
  with a second voice;
* ``noise``: 59 s of noise whose colour and level change every few seconds (``LONG_NOISE_FILES`` files; the model
  hears the loudest second of it).

Each clip sits in near-silence (-80 dBFS noise) of ``CLIP_S`` seconds at a random peak level. The folder names start
with ``_``: :mod:`host.evaluate` counts such clips as "no word" and reports how many the model rejects.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import numpy as np

from data.augment_audio import colored_noise
from data.config import run_main
from data.synth import write_wav

RATE = 16000
# Length of every clip but the long noise, seconds.
CLIP_S = 1.5
# The long noise: just under the 60 s that a clip may last (data.features.MAX_CLIP_SECONDS).
LONG_NOISE_S = 59.0
LONG_NOISE_FILES = 4
# Frequency range of tones, sweeps and the fundamentals of notes (Hz).
TONE_HZ = (150.0, 3000.0)
NOTE_HZ = (110.0, 880.0)
# Peak level of a clip, dB below full scale (uniform).
PEAK_DB = (-30.0, -3.0)
# Level of the near-silence under every clip (RMS, dBFS).
FLOOR_DB = -80.0


def _place(sound: np.ndarray, rng: np.random.Generator, seconds: float = CLIP_S) -> np.ndarray:
    """``sound`` at a random position and peak level in ``seconds`` of near-silence."""
    n = int(seconds * RATE)
    sound = sound[:n]
    out = colored_noise(n, 0.0, rng) * 10 ** (FLOOR_DB / 20)
    start = int(rng.integers(0, n - len(sound) + 1))
    peak = 10 ** (rng.uniform(*PEAK_DB) / 20)
    out[start:start + len(sound)] += sound / (np.abs(sound).max() + 1e-12) * peak
    return out


def _fades(n: int, rng: np.random.Generator) -> np.ndarray:
    fade = max(1, min(n // 2, int(rng.uniform(0.01, 0.1) * RATE)))
    env = np.ones(n)
    env[:fade] = np.linspace(0, 1, fade)
    env[n - fade:] = np.linspace(1, 0, fade)
    return env


def tone(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.3, 1.5) * RATE)
    f = 440.0 if rng.random() < 0.25 else float(np.exp(rng.uniform(*np.log(TONE_HZ))))
    return _place(np.sin(2 * np.pi * f * np.arange(n) / RATE) * _fades(n, rng), rng)


def sweep(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.3, 1.5) * RATE)
    f0, f1 = np.exp(rng.uniform(*np.log(TONE_HZ), size=2))
    phase = 2 * np.pi * np.cumsum(np.geomspace(f0, f1, n)) / RATE
    return _place(np.sin(phase) * _fades(n, rng), rng)


def burst(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.1, 0.6) * RATE)
    attack = int(0.005 * RATE)
    env = np.exp(-np.arange(n) / (n / rng.uniform(2, 6)))
    env[:attack] *= np.linspace(0, 1, attack)
    return _place(colored_noise(n, float(rng.choice((0.0, 1.0, 2.0))), rng) * env, rng)


def click(rng: np.random.Generator) -> np.ndarray:
    n = int(CLIP_S * RATE)
    out = np.zeros(n)
    for _ in range(int(rng.integers(1, 7))):
        m = int(rng.uniform(0.002, 0.04) * RATE)
        c = colored_noise(m, float(rng.choice((0.0, 1.0))), rng) * np.exp(-np.arange(m) / (m / 5))
        start = int(rng.integers(0, n - m))
        out[start:start + m] += c * rng.uniform(0.3, 1.0)
    return _place(out, rng)


def _note(f: float, n: int, partials: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / RATE
    wave = sum(np.sin(2 * np.pi * f * k * t + rng.uniform(0, 2 * np.pi)) / k ** rng.uniform(0.8, 2.0)
               for k in range(1, partials + 1) if f * k < RATE / 2)
    attack, release = int(0.01 * RATE), int(0.05 * RATE)
    env = np.exp(-t / rng.uniform(0.1, 0.6))
    env[:attack] *= np.linspace(0, 1, attack)
    env[n - release:] *= np.linspace(1, 0, release)
    return wave * env


def music(rng: np.random.Generator) -> np.ndarray:
    partials = int(rng.integers(3, 9))
    voices = 2 if rng.random() < 0.3 else 1
    notes = []
    for _ in range(int(rng.integers(3, 9))):
        n = int(rng.uniform(0.1, 0.4) * RATE)
        root = float(np.exp(rng.uniform(*np.log(NOTE_HZ))))
        # a second voice a third, fourth or fifth above
        notes.append(sum(_note(root * 2 ** (v * int(rng.choice((4, 5, 7))) / 12), n, partials, rng)
                         for v in range(voices)))
    return _place(np.concatenate(notes), rng, max(CLIP_S, sum(len(x) for x in notes) / RATE))


def long_noise(rng: np.random.Generator) -> np.ndarray:
    n = int(LONG_NOISE_S * RATE)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        m = min(n - pos, int(rng.uniform(2.0, 8.0) * RATE))
        level = 10 ** (rng.uniform(-40, -10) / 20)
        out[pos:pos + m] = colored_noise(m, float(rng.choice((0.0, 1.0, 2.0))), rng) * level
        pos += m
    return out / (np.abs(out).max() + 1e-12) * 10 ** (rng.uniform(*PEAK_DB) / 20)


KINDS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "tone": tone, "sweep": sweep, "burst": burst, "click": click, "music": music, "noise": long_noise}


def write_nonspeech(out: Path, per_kind: int, seed: int, kinds: tuple[str, ...] = tuple(KINDS)) -> dict[str, int]:
    """Write ``per_kind`` clips of every kind in ``kinds`` (``LONG_NOISE_FILES`` at most of the long noise) into
    ``out/_<kind>_/``; returns the number written per kind."""
    counts = {}
    for k, kind in enumerate(kinds):
        folder = out / f"_{kind}_"
        folder.mkdir(parents=True, exist_ok=True)
        count = min(per_kind, LONG_NOISE_FILES) if kind == "noise" else per_kind
        for i in range(count):
            rng = np.random.default_rng([seed, k, i])
            audio = np.clip(KINDS[kind](rng), -1.0, 1.0)
            write_wav(folder / f"{kind}_{i}.wav", np.round(audio * 32767).astype(np.int16), RATE)
        counts[kind] = count
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m experiments.nonspeech", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("build/nonspeech"))
    p.add_argument("--per-kind", type=int, default=40)
    p.add_argument("--seed", type=int, default=5)
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()

    def go() -> None:
        counts = write_nonspeech(args.out, args.per_kind, args.seed)
        print(f"nonspeech: {', '.join(f'{n} {kind}' for kind, n in counts.items())} clips -> {args.out}")

    run_main(go)
