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
# Kinds of _silence_ clips, in turn: real noise, generated noise, near-digital silence, artificial sounds (tones,
# notes, a noise burst or clicks in near-silence: what a microphone hears that is no word and no steady noise).
SILENCE_KINDS = 4
# Fundamental frequencies of the artificial tones and notes (Hz).
NOTE_HZ = (80.0, 3000.0)
# Unknown words each synthetic speaker contributes (a digit has two takes per speaker).
UNKNOWN_WORDS_PER_SPEAKER = 2
# Silence clips per synthetic "speaker" source: sources are the split unit, so they fall in every split by hash.
SILENCE_CLIPS_PER_SOURCE = 4


# The answer to one clip, on every surface (predict, evaluate, the harness, the demo page, the board's INFER/HEAR
# replies: protocol.h kAnswer*): a word, or why there is none.
WORD = "word"
NOT_A_WORD = "not-a-word"
LOW_CONFIDENCE = "low-confidence"
ANSWERS = (WORD, NOT_A_WORD, LOW_CONFIDENCE)


def is_nothing(label: str) -> bool:
    """Labels of the nothing classes start with an underscore (the firmware applies the same rule)."""
    return label.startswith("_")


def answer(label: str, confident: bool) -> str:
    """The answer for a clip whose top label is ``label``: ``NOT_A_WORD`` for a nothing class, else ``WORD`` when its
    probability reaches ``config.toml [answer] min_confidence`` (``confident``), ``LOW_CONFIDENCE`` otherwise."""
    if is_nothing(label):
        return NOT_A_WORD
    return WORD if confident else LOW_CONFIDENCE


def int8_answer(labels: list[str] | tuple[str, ...], scores: list[int] | tuple[int, ...] | np.ndarray,
                min_score: int) -> tuple[int, str]:
    """The top index of a clip's int8 ``scores`` (the first of equal maxima, as the board) and its answer, with the
    model's ``min_word_score`` (what the board's INFER/HEAR replies say)."""
    top = int(np.argmax(scores))
    return top, answer(labels[top], int(scores[top]) >= min_score)


def min_word_score(min_confidence: float, scale: float, zero_point: int) -> int:
    """The int8 form of ``min_confidence`` for a model's output quantization: the smallest int8 score whose
    probability ``(score - zero_point) * scale`` (binary32, as the board dequantizes) reaches it; 128 (above every
    score) when none does. Host and board compare int8 scores with it, so they decide alike."""
    for score in range(-128, 128):
        if np.float32(score - zero_point) * np.float32(scale) >= np.float32(min_confidence):
            return score
    return 128


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


def _note(m: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` samples of a tone or note: ``NOTE_HZ``, one partial (a pure tone) half of the time, else 2-6; a flat
    level with short fades or a decay; sometimes vibrato, sometimes a glide of up to two octaves."""
    t = np.arange(m) / rate
    f0 = float(np.exp(rng.uniform(*np.log(NOTE_HZ))))
    shape = rng.random()
    if shape < 0.3:  # vibrato
        f = f0 * (1 + rng.uniform(0.005, 0.03) * np.sin(2 * np.pi * rng.uniform(3, 7) * t))
    elif shape < 0.6:  # glide
        f = f0 * 2 ** (rng.uniform(-2, 2) * t / t[-1])
    else:
        f = np.full(m, f0)
    phase = 2 * np.pi * np.cumsum(f) / rate
    partials = 1 if rng.random() < 0.5 else int(rng.integers(2, 7))
    sound = sum(np.sin(k * phase) / k ** rng.uniform(0.5, 2.0) for k in range(1, partials + 1)
                if f.max() * k < rate / 2)
    fade = min(m // 2, int(rng.uniform(0.002, 0.1) * rate))
    env = np.ones(m) if rng.random() < 0.5 else np.exp(-t / rng.uniform(0.05, 2.0))
    env[:fade] *= np.linspace(0, 1, fade)
    env[m - fade:] *= np.linspace(1, 0, fade)
    return sound * env


def artificial_sound(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of near-silence with a sound that is no word in it: one to four tones or notes in a row
    (:func:`_note`, 0.1-1 s in all), a noise burst (20-300 ms, sharp attack, decay) or a few clicks (1-10 ms)."""
    out = colored_noise(n, 0.0, rng) * 1e-4
    kind = rng.random()
    if kind < 0.6:
        total = int(rng.uniform(0.1, min(1.0, n / rate)) * rate)
        cuts = np.sort(rng.integers(1, total, int(rng.integers(0, 4))))
        sound = np.concatenate([_note(len(part), rate, rng) for part in np.split(np.arange(total), cuts)
                                if len(part) > 1])
    elif kind < 0.8:
        m = int(rng.uniform(0.02, 0.3) * rate)
        sound = colored_noise(m, float(rng.choice((0.0, 1.0, 2.0))), rng) * np.exp(-np.arange(m) / (m / 4))
    else:
        sound = np.zeros(n)
        for _ in range(int(rng.integers(1, 9))):
            m = int(rng.integers(2, int(0.01 * rate)))
            start = int(rng.integers(0, n - m))
            sound[start:start + m] += colored_noise(m, 0.0, rng) * np.exp(-np.arange(m) / max(1, m / 4))
    start = int(rng.integers(0, n - len(sound) + 1))
    out[start:start + len(sound)] += sound / (np.abs(sound).max() + 1e-12)
    return out


def silence_audio(n: int, count: int, noises: list[np.ndarray], seed: int, rate: int) -> list[np.ndarray]:
    """``count`` clips of ``n`` samples at ``rate``, the ``SILENCE_KINDS`` in turn: real-noise excerpts (when
    ``noises``), generated colored noise, near-digital silence and artificial sounds, at log-uniform random peak
    levels."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        kind = i % SILENCE_KINDS
        if kind == 3:
            audio = artificial_sound(n, rate, rng)
            peak = 10 ** rng.uniform(np.log10(SILENCE_PEAK_MIN * 10), np.log10(SILENCE_PEAK_MAX))
        elif kind == 0 and noises:
            src = noises[int(rng.integers(len(noises)))]
            start = int(rng.integers(0, max(1, len(src) - n)))
            audio = np.resize(src[start:start + n], n).astype(np.float64)
            peak = 10 ** rng.uniform(np.log10(SILENCE_PEAK_MIN), np.log10(SILENCE_PEAK_MAX))
        else:
            audio = colored_noise(n, float(rng.choice((0.0, 1.0, 2.0))), rng)
            # near-digital silence for the third kind, any level for generated noise
            high = SILENCE_PEAK_MIN * 10 if kind == 2 else SILENCE_PEAK_MAX
            peak = 10 ** rng.uniform(np.log10(SILENCE_PEAK_MIN), np.log10(high))
        audio = audio - audio.mean()  # a drifting excerpt at a near-silent peak must not read as a DC offset
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
               "peaks": [SILENCE_PEAK_MIN, SILENCE_PEAK_MAX], "kinds": SILENCE_KINDS, "note_hz": list(NOTE_HZ)}
    manifest = folder / "manifest.json"
    if not (manifest.exists() and json.loads(manifest.read_text()) == request):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.wav"):
            old.unlink()
        noises = noise_recordings(noise_dir, params.sample_rate, "train")
        for source in sources:
            source_seed = int(hashlib.sha1(f"{source}|{seed}".encode()).hexdigest()[:12], 16)
            for k, audio in enumerate(silence_audio(params.clip_samples, per_source, noises, source_seed,
                                                    params.sample_rate)):
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
