"""The "nothing" classes of a continuous listener: ``_silence_`` and ``_unknown_`` (``config.toml [dataset]
extra_classes``), so that a model fed a sliding 1 s window can say that no digit is there.

* ``_silence_``: 1 s of background noise at a random level: excerpts of the recordings in
  ``NOISE_DIR_DEFAULT`` (the start of Speech Commands' ``_background_noise_`` shipped in the repository; only their
  first ``TRAIN_NOISE_FRACTION``: the long test recording of :mod:`host.long_recording` takes the end of the full
  recordings), generated white/pink/brown noise and
  near-digital silence. Written as WAVs under ``build/nothing/`` (cached by request); their features are put into
  the data stage's feature cache here, without the speech check that :func:`data.datasets.extract_clips` applies to
  files it featurizes itself (noise is steady by nature). Training copies are augmented like every clip.
* ``_unknown_``: non-digit words (``[dataset] unknown_words``) spoken by the synthetic speakers (espeak-ng and Flite,
  :func:`data.synth.generate`), so their takes fall in the same speaker-wise splits as the digits;
  ``UNKNOWN_WORDS_PER_SPEAKER`` of them per speaker, in turn.

Both classes get about as many clips as one digit: a larger class would also trip training's collapse check, which
expects no class to take more than three times its fair share of the predictions.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from data.augment_audio import colored_noise
from data.config import REPO_ROOT, PipelineError
from data.datasets import Clip, file_cache_key, source_of
from data.features import MAX_NOISE_SECONDS, FeatureParams, mfcc, read_audio
from data.synth import generate, write_wav

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
EXTRA_CLASSES = (SILENCE, UNKNOWN)
# The real noise of ``_silence_`` when no noise folder is given: the one shipped with the repository (the first 15 s
# of Speech Commands' recordings), so every clone trains on the same clips.
NOISE_DIR_DEFAULT = REPO_ROOT / "data" / "speech_commands_sample" / "_background_noise_"
# The full recordings in the team's shared copy: the long test recording takes its noise from their held-out part.
HELDOUT_NOISE_DIR = REPO_ROOT.parent / "shared" / "data" / "speech_commands_digits" / "_background_noise_"
# Each background recording is cut here: training takes excerpts before, the long test recording after.
TRAIN_NOISE_FRACTION = 0.7
# Level of a silence clip: peak amplitude drawn log-uniformly between these (full scale 1.0); near-digital silence
# (the quietest) is what a muted microphone gives.
SILENCE_PEAK_MIN = 3e-4
SILENCE_PEAK_MAX = 0.5
# Unknown words each synthetic speaker contributes (a digit has two takes per speaker).
UNKNOWN_WORDS_PER_SPEAKER = 2
# Silence clips per synthetic "speaker" source: sources are the split unit, so they fall in every split by hash.
SILENCE_CLIPS_PER_SOURCE = 4


def is_nothing(label: str) -> bool:
    """Labels of the nothing classes start with an underscore (the firmware applies the same rule)."""
    return label.startswith("_")


def check_extra_classes(extra: list[str]) -> None:
    unknown = [c for c in extra if c not in EXTRA_CLASSES]
    if unknown or len(set(extra)) != len(extra):
        raise PipelineError(f"config.toml [dataset] extra_classes: {extra} must be distinct names among "
                            f"{list(EXTRA_CLASSES)}")


def noise_recordings(noise_dir: Path, sample_rate: int, part: str) -> list[np.ndarray]:
    """The background recordings of ``noise_dir`` at ``sample_rate``, each cut to its training part (``part="train"``,
    the first ``TRAIN_NOISE_FRACTION``) or its held-out rest (``"test"``); empty when the folder does not exist."""
    if not noise_dir.is_dir():
        return []
    out = []
    for path in sorted(noise_dir.glob("*.wav")):
        audio = read_audio(path, sample_rate, MAX_NOISE_SECONDS)
        cut = int(len(audio) * TRAIN_NOISE_FRACTION)
        out.append(audio[:cut] if part == "train" else audio[cut:])
    return out


def silence_audio(n: int, count: int, noises: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """``count`` clips of ``n`` samples: a third each real-noise excerpts (when ``noises``), generated colored noise
    and near-digital silence, at log-uniform random peak levels."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        kind = i % 3
        if kind == 0 and noises:
            src = noises[int(rng.integers(len(noises)))]
            start = int(rng.integers(0, max(1, len(src) - n)))
            audio = np.resize(src[start:start + n], n).astype(np.float64)
            peak = 10 ** rng.uniform(np.log10(SILENCE_PEAK_MIN), np.log10(SILENCE_PEAK_MAX))
        else:
            audio = colored_noise(n, float(rng.choice((0.0, 1.0, 2.0))), rng)
            # near-digital silence for the third kind, any level for generated noise
            high = SILENCE_PEAK_MIN * 10 if kind == 2 else SILENCE_PEAK_MAX
            peak = 10 ** rng.uniform(np.log10(SILENCE_PEAK_MIN), np.log10(high))
        clips.append((audio / (np.abs(audio).max() + 1e-12) * peak).astype(np.float32))
    return clips


def silence_clips(out: Path, sources: list[str], per_source: int, params: FeatureParams, noise_dir: Path,
                  seed: int, cache_dir: Path) -> list[Clip]:
    """``_silence_`` WAVs under ``out/_silence_/`` (regenerated when the request changes), ``per_source`` clips
    named after each of ``sources`` so that they split like those sources; their features are in ``cache_dir``
    (the feature cache of :func:`data.datasets.extract_clips`) when this returns."""
    folder = out / SILENCE
    request = {"sources": sources, "per_source": per_source, "rate": params.sample_rate, "n": params.clip_samples,
               "noise_dir": str(noise_dir), "train_fraction": TRAIN_NOISE_FRACTION, "seed": seed,
               "peaks": [SILENCE_PEAK_MIN, SILENCE_PEAK_MAX]}
    manifest = folder / "manifest.json"
    if not (manifest.exists() and json.loads(manifest.read_text()) == request):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.wav"):
            old.unlink()
        noises = noise_recordings(noise_dir, params.sample_rate, "train")
        for source in sources:
            source_seed = int(hashlib.sha1(f"{source}|{seed}".encode()).hexdigest()[:12], 16)
            for k, audio in enumerate(silence_audio(params.clip_samples, per_source, noises, source_seed)):
                write_wav(folder / f"{source}_{k}.wav", np.round(audio * 32767).astype(np.int16),
                          params.sample_rate)
        manifest.write_text(json.dumps(request))
    clips = [Clip(p, SILENCE, source_of(p)) for p in sorted(folder.glob("*.wav"))]
    cache_dir.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        cached = cache_dir / f"{file_cache_key(clip.path, params)}.npy"
        if not cached.exists():
            np.save(cached, nothing_features([clip], params)[0], allow_pickle=False)
    return clips


def unknown_clips(out: Path, words: list[str], speakers: int, flite: int, seed: int) -> list[Clip]:
    """``_unknown_``: ``UNKNOWN_WORDS_PER_SPEAKER`` of ``words`` (one take each) by every synthetic speaker, the
    k-th speaker (by id) taking words 2k, 2k+1, ... in turn (synthesized into ``out/unknown/``, cached)."""
    if not words:
        raise PipelineError("config.toml [dataset] unknown_words is empty but extra_classes has _unknown_")
    root = generate(out / "unknown", words, speakers, 1, seed, flite)
    sources = sorted({source_of(p) for p in root.glob("*/*.wav")})
    clips = []
    for k, source in enumerate(sources):
        for j in range(min(UNKNOWN_WORDS_PER_SPEAKER, len(words))):
            word = words[(UNKNOWN_WORDS_PER_SPEAKER * k + j) % len(words)]
            clips += [Clip(p, UNKNOWN, source) for p in sorted((root / word).glob(f"{source}_*.wav"))]
    return clips


def nothing_features(clips: list[Clip], params: FeatureParams) -> np.ndarray:
    """MFCCs of silence clips with the model's front end, without the speech check (noise is steady)."""
    feats = [mfcc(read_audio(c.path, params.sample_rate), params) for c in clips]
    return np.stack(feats) if feats else np.zeros((0, *params.shape), np.float32)
