"""A scale rehearsal: a dataset in the Speech Commands layout at a chosen size, to measure what the data and training
stages cost at full size (``make bench-scale``) before downloading 2.4 GB. A rehearsal of size, not of accuracy.

    python -m data.rehearsal --clips 40000 --out build/rehearsal-40000 [--seed 0]

Writes ``<out>/<word>/<speaker>_nohash_<n>.wav`` (1 s, 16 kHz, 16-bit mono, like every Speech Commands clip),
``validation_list.txt`` and ``testing_list.txt`` chosen as the published lists were (10 % each, by the hash of the
speaker), and ``_background_noise_/`` (generated noise, 60 s per file). Every clip is a perturbed copy (gain, time
shift, spectral tilt, noise) of a real or synthesized clip, so that no two files are alike and each costs what a real
one costs to read and featurize (no cache hit). Its sources: the Speech Commands sample shipped with the repository,
a few synthesized speakers (:mod:`data.synth`), and the team's real recordings in ``../shared/data/other_digits``
when present. Nothing is copied: the clips are new files outside the repository's tracked tree.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np

from data.config import REPO_ROOT, PipelineError, load_config, positive_int, run_main
from data.datasets import SPEECH_COMMANDS_NOISE_DIR, load_folder
from data.features import INT16_FULL_SCALE, read_audio
from data.synth import generate, write_wav

RATE = 16000
# Speech Commands v0.02: 105,829 clips of 2,618 speakers over 35 words; its ten digits: 38,546 clips, about 15 per
# speaker.
CLIPS_PER_SPEAKER = 15
# The published lists: 10 % validation, 10 % testing, by the hash of the speaker (TF speech_commands' which_set).
VALIDATION_PERCENT = 10
TESTING_PERCENT = 10
_MAX_NUM_WAVS_PER_CLASS = 2 ** 27 - 1  # the constant of which_set
# Synthesized speakers (espeak-ng, one take of each word) among the clips that are perturbed.
SYNTH_SPEAKERS = 8
# Sources read when they exist (the team's workspace; a user's clone has the shipped sample and the synthesis).
SHARED_SOURCES = (REPO_ROOT.parent / "shared" / "data" / "other_digits",)
SAMPLE_DIR = REPO_ROOT / "data" / "speech_commands_sample"
# Generated background noise: files and seconds each (Speech Commands has six files of 60-95 s).
NOISE_FILES = 6
NOISE_SECONDS = 60
# Perturbation ranges: gain (dB), time shift (s, either way), first-order spectral tilt, signal-to-noise ratio (dB).
GAIN_DB = (-12.0, 3.0)
SHIFT_S = 0.15
TILT = 0.5
SNR_DB = (15.0, 40.0)
MANIFEST = "rehearsal.json"
# Version of the recipe above: part of the manifest, so a changed recipe regenerates.
REHEARSAL_VERSION = 1


def which_set(name: str) -> str:
    """``validation``, ``testing`` or ``training`` for a clip file name: the rule the published lists follow."""
    speaker = re.sub(r"_nohash_.*$", "", name)
    digest = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    percent = (digest % (_MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / _MAX_NUM_WAVS_PER_CLASS)
    if percent < VALIDATION_PERCENT:
        return "validation"
    return "testing" if percent < VALIDATION_PERCENT + TESTING_PERCENT else "training"


def base_clips(labels: list[str], work: Path, seed: int) -> dict[str, list[np.ndarray]]:
    """The clips that are perturbed, per label, at 16 kHz: the shipped sample, synthesized speakers, and the shared
    real recordings when present."""
    folders = [SAMPLE_DIR, generate(work / "synth", labels, SYNTH_SPEAKERS, 1, seed)]
    folders += [p for p in SHARED_SOURCES if p.is_dir()]
    out: dict[str, list[np.ndarray]] = {lab: [] for lab in labels}
    for folder in folders:
        present = [lab for lab in labels if (folder / lab).is_dir()]
        for clip in load_folder(folder, present):
            out[clip.label].append(fit_second(read_audio(clip.path, RATE)))
    missing = [lab for lab in labels if not out[lab]]
    if missing:
        raise PipelineError(f"no clips of {missing} to perturb (labels of config.toml [dataset])")
    return out


def fit_second(audio: np.ndarray) -> np.ndarray:
    """Exactly one second: centred and padded, or the middle second."""
    if len(audio) >= RATE:
        start = (len(audio) - RATE) // 2
        return audio[start:start + RATE]
    left = (RATE - len(audio)) // 2
    return np.pad(audio, (left, RATE - len(audio) - left))


def perturb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A new take of a 1 s clip: shifted in time, tilted in spectrum, at another gain, in a little noise; 16-bit."""
    shift = int(rng.uniform(-SHIFT_S, SHIFT_S) * RATE)
    x = np.zeros(RATE)
    if shift >= 0:
        x[shift:] = audio[:RATE - shift]
    else:
        x[:shift] = audio[-shift:]
    tilt = rng.uniform(-TILT, TILT)
    x[1:] += tilt * x[:-1]
    power = np.mean(x ** 2) + 1e-12
    x += rng.standard_normal(len(x)) * math.sqrt(power / 10 ** (rng.uniform(*SNR_DB) / 10))
    x *= 10 ** (rng.uniform(*GAIN_DB) / 20) * 0.5 / (np.abs(x).max() + 1e-12)
    return np.clip(np.round(x * INT16_FULL_SCALE), -INT16_FULL_SCALE, INT16_FULL_SCALE - 1).astype(np.int16)


def speaker_id(seed: int, k: int) -> str:
    """Eight hex digits, like a Speech Commands speaker."""
    return hashlib.sha1(f"rehearsal-{seed}-{k}".encode()).hexdigest()[:8]


def write_noise(folder: Path, seed: int) -> None:
    """``NOISE_FILES`` background-noise recordings: white, pink and brown noise, two each."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n = NOISE_SECONDS * RATE
    for k in range(NOISE_FILES):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n)
        f[0] = f[1]
        noise = np.fft.irfft(spectrum / f ** ((k % 3) / 2), n)
        noise *= 0.3 / np.abs(noise).max()
        write_wav(folder / f"noise_{k}.wav", np.round(noise * INT16_FULL_SCALE).astype(np.int16), RATE)


def rehearse(clips: int, out: Path, seed: int = 0, work: Path | None = None) -> Path:
    """Write a rehearsal dataset of ``clips`` clips into ``out`` (nothing to do when ``out`` already holds the same
    request); built in ``<out>.partial`` and renamed when complete, so a half-written set is never used.

    Parameters
    ----------
    clips : int
    out : Path
    seed : int
        The same seed gives the same files.
    work : Path, optional
        Where the synthesized base clips are cached (``<out>.base`` by default).

    Returns
    -------
    Path
        ``out``.
    """
    from tqdm import tqdm

    labels = list(load_config()["dataset"]["labels"])
    manifest = {"version": REHEARSAL_VERSION, "clips": clips, "seed": seed, "labels": labels,
                "shared": [str(p) for p in SHARED_SOURCES if p.is_dir()]}
    if (out / MANIFEST).is_file() and json.loads((out / MANIFEST).read_text()) == manifest:
        return out
    if out.exists():
        shutil.rmtree(out)
    base = base_clips(labels, work or out.with_name(f"{out.name}.base"), seed)
    partial = out.with_name(f"{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    for lab in labels:
        (partial / lab).mkdir(parents=True)
    lists: dict[str, list[str]] = {"validation": [], "testing": []}
    takes: dict[tuple[int, str], int] = {}
    for i in tqdm(range(clips), desc="rehearsal", unit="clip", mininterval=1.0, disable=None):
        speaker = i // CLIPS_PER_SPEAKER
        label = labels[(i + speaker) % len(labels)]
        take = takes[speaker, label] = takes.get((speaker, label), -1) + 1
        rng = np.random.default_rng([seed, i])
        name = f"{label}/{speaker_id(seed, speaker)}_nohash_{take}.wav"
        write_wav(partial / name, perturb(base[label][int(rng.integers(len(base[label])))], rng), RATE)
        split = which_set(Path(name).name)
        if split in lists:
            lists[split].append(name)
    for split, names in lists.items():
        (partial / f"{split}_list.txt").write_text("".join(f"{n}\n" for n in sorted(names)))
    write_noise(partial / SPEECH_COMMANDS_NOISE_DIR, seed)
    (partial / "README.md").write_text(f"A scale rehearsal written by `python -m data.rehearsal` (data/rehearsal.py):"
                                       f" {clips:,} perturbed clips in the Speech Commands layout; not real speech "
                                       f"data, measures cost only.\n")
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
    partial.rename(out)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m data.rehearsal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=positive_int, required=True, help="number of clips")
    p.add_argument("--out", type=Path, required=True, help="folder to write (replaced)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()

    def go() -> None:
        out = rehearse(args.clips, args.out, args.seed)
        print(f"rehearsal: {args.clips:,} clips in {out}; its data stage: python -m data --dataset speech_commands "
              f"--data-dir {out} --noise-dir {out / SPEECH_COMMANDS_NOISE_DIR}")

    run_main(go)
