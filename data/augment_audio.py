"""Audio-level augmentation of training clips (noise at a random SNR, gain, time shift, speed, pitch), cached as MFCCs.

Only the caller decides which clips are augmented: the data stage and ``experiments.cv`` pass training clips only, so
no augmented copy of a validation/test clip ever exists. Every copy is a deterministic function of (clip label and
file name, copy index, parameters, seed, the noise folder's content), so the cache is shared by all folds and seeds
and a clone in another folder (or on another machine) augments alike: no absolute path enters a seed.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from data.config import PipelineError
from data.datasets import Clip, file_cache_key, load_cached, save_cached
from data.features import MAX_NOISE_SECONDS, FeatureParams, mfcc, read_audio
from data.parallel import ordered_map

# Spectral slopes of the generated noises: white (0), pink (1/f power), brown (1/f^2 power).
NOISE_COLORS = (0.0, 1.0, 2.0)


@dataclass(frozen=True)
class AudioAugmentParams:
    """``config.toml [augment_audio]``; see the comments there. ``noise_dir`` is a folder of noise WAVs or None."""

    copies: int = 2
    noise_prob: float = 0.8
    snr_db_min: float = 5.0
    snr_db_max: float = 30.0
    gain_db: float = 12.0
    shift_ms: float = 100.0
    speed_min: float = 0.88
    speed_max: float = 1.12
    pitch_semitones: float = 2.0
    seed: int = 99
    noise_dir: str | None = None

    def __post_init__(self) -> None:
        if self.copies < 0 or not 0 <= self.noise_prob <= 1 or self.snr_db_min > self.snr_db_max:
            raise PipelineError("config.toml [augment_audio]: need copies >= 0, 0 <= noise_prob <= 1, "
                                "snr_db_min <= snr_db_max")
        if not 0 < self.speed_min <= self.speed_max:
            raise PipelineError("config.toml [augment_audio]: need 0 < speed_min <= speed_max")

    @classmethod
    def from_config(cls, config: dict[str, Any], noise_dir: Path | None = None) -> "AudioAugmentParams":
        section = dict(config.get("augment_audio", {}))
        unknown = set(section) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise PipelineError(f"config.toml [augment_audio]: unknown keys {sorted(unknown)}")
        if noise_dir is not None:
            if not Path(noise_dir).is_dir():
                raise PipelineError(f"{noise_dir}: noise folder does not exist")
            section["noise_dir"] = str(Path(noise_dir).resolve())
        return cls(**section)

    def digest(self) -> str:
        """Short hash of the parameters, part of every copy's seed: the noise folder counts by its content
        (:func:`noise_fingerprint`), never by where it is."""
        fields = dataclasses.asdict(self)
        fields["noise_dir"] = noise_fingerprint(self.noise_dir) if self.noise_dir else None
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def noise_fingerprint(noise_dir: str) -> str:
    """What a noise folder holds, independent of its location: the relative names and the bytes of its WAVs, in the
    order :func:`load_noises` reads them (read once per state of the files: ``digest`` is called for every copy)."""
    root = Path(noise_dir)
    files = tuple((p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in sorted(root.rglob("*.wav")))
    return _content_digest(str(root), files)


@functools.lru_cache(maxsize=8)
def _content_digest(root: str, files: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha1()
    for name, _, _ in files:
        h.update(name.encode() + b"\0" + hashlib.sha1((Path(root) / name).read_bytes()).digest())
    return h.hexdigest()[:12]


def colored_noise(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose power falls as ``1/f**slope``; shape (n,), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]  # no DC blow-up
    noise = np.fft.irfft(spec / f ** (slope / 2), n)
    return noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)


def load_noises(noise_dir: str | None, sample_rate: int) -> list[np.ndarray]:
    """Every WAV under ``noise_dir`` (recursively) at ``sample_rate``; empty when no folder is given."""
    if noise_dir is None:
        return []
    paths = sorted(Path(noise_dir).rglob("*.wav"))
    if not paths:
        raise PipelineError(f"{noise_dir}: no .wav noise files")
    return [read_audio(p, sample_rate, MAX_NOISE_SECONDS) for p in paths]


def add_noise(audio: np.ndarray, snr_db: float, noises: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Mix noise into ``audio`` (n,) at ``snr_db`` relative to the speech power: a random excerpt of a real noise
    (when ``noises`` is non-empty, half of the time) or generated colored noise."""
    n = audio.shape[0]
    if noises and rng.random() < 0.5:
        src = noises[int(rng.integers(len(noises)))]
        src = np.tile(src, int(np.ceil(n / src.shape[0])))
        start = int(rng.integers(0, src.shape[0] - n + 1))
        noise = src[start:start + n].astype(np.float64)
        noise /= np.sqrt(np.mean(noise ** 2)) + 1e-12
    else:
        noise = colored_noise(n, float(rng.choice(NOISE_COLORS)), rng)
    # Speech power over its active part (above 1 % of the peak), so silence padding does not lower the SNR.
    active = audio[np.abs(audio) > 0.01 * np.abs(audio).max()]
    power = np.mean(active.astype(np.float64) ** 2)
    return (audio + noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def augment_audio(audio: np.ndarray, sample_rate: int, p: AudioAugmentParams, noises: list[np.ndarray],
                  rng: np.random.Generator) -> np.ndarray:
    """One random augmentation of a clip.

    Parameters
    ----------
    audio : np.ndarray, shape (n,), float32 at ``sample_rate``
    sample_rate : int
    p : AudioAugmentParams
    noises : list of np.ndarray
        Real noise recordings at ``sample_rate`` (may be empty).
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (m,), float32 (length changes with speed and shift)
    """
    import librosa

    speed = rng.uniform(p.speed_min, p.speed_max)
    if speed != 1.0:  # resampling and playing back at the original rate: faster and higher, like Kaldi's speed perturb
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=int(round(sample_rate / speed)))
    if p.pitch_semitones:
        audio = librosa.effects.pitch_shift(audio, sr=sample_rate, n_steps=rng.uniform(-1, 1) * p.pitch_semitones,
                                            n_fft=512)
    if p.shift_ms:
        # Silence before (or after) the word moves it in the clip; features centre short clips.
        pad = int(rng.uniform(0, p.shift_ms) * sample_rate / 1000) * 2
        audio = np.pad(audio, (pad, 0) if rng.random() < 0.5 else (0, pad))
    if rng.random() < p.noise_prob:
        audio = add_noise(audio, rng.uniform(p.snr_db_min, p.snr_db_max), noises, rng)
    audio = audio * 10 ** (rng.uniform(-1, 1) * p.gain_db / 20)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _copy_seed(clip: Clip, copy: int, p: AudioAugmentParams) -> int:
    """Seed of one augmented copy: independent of which other clips are processed (folds share the cache)."""
    ident = f"{clip.label}/{clip.path.name}|{copy}|{p.digest()}"
    return int(hashlib.sha1(ident.encode()).hexdigest()[:15], 16)


# Real noise recordings read by this process, by (folder, rate): each worker reads them once, when it first needs
# them (never when every copy is cached).
_NOISES: dict[tuple[str | None, int], list[np.ndarray]] = {}


def _noises(noise_dir: str | None, sample_rate: int) -> list[np.ndarray]:
    key = (noise_dir, sample_rate)
    if key not in _NOISES:
        _NOISES[key] = load_noises(noise_dir, sample_rate)
    return _NOISES[key]


def _copies_task(clip: Clip, params: FeatureParams, p: AudioAugmentParams, cache_dir: Path) -> tuple[list[np.ndarray],
                                                                                                      int]:
    """MFCCs of the ``p.copies`` augmented copies of one clip (runs in a worker process), each from the cache or
    computed and cached at once; and how many were computed."""
    source = f"{file_cache_key(clip.path, params)}|{p.digest()}"  # one stat of the file for all its copies
    copies, computed, audio = [], 0, None
    for copy in range(p.copies):
        cached = cache_dir / f"{hashlib.sha1(f'{source}|{copy}'.encode()).hexdigest()}.npy"
        x = load_cached(cached, params)
        if x is None:
            if audio is None:
                audio = read_audio(clip.path, params.sample_rate)
            rng = np.random.default_rng(_copy_seed(clip, copy, p))
            x = mfcc(augment_audio(audio, params.sample_rate, p, _noises(p.noise_dir, params.sample_rate), rng),
                     params)
            save_cached(cached, x)
            computed += 1
        copies.append(x)
    return copies, computed


def augmented_copies(clips: list[Clip], params: FeatureParams, p: AudioAugmentParams, cache_dir: Path,
                     desc: str = "augmenting", jobs: int | None = None) -> Iterator[tuple[list[np.ndarray], int]]:
    """For every clip in order, the MFCCs of its ``p.copies`` augmented copies and how many of them were computed
    (not cached), on ``jobs`` processes (``None``: every core; :func:`data.parallel.ordered_map`)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    task = functools.partial(_copies_task, params=params, p=p, cache_dir=cache_dir)
    return ordered_map(task, clips if p.copies else [], len(clips) if p.copies else 0, jobs, desc)


def augmented_features(clips: list[Clip], params: FeatureParams, p: AudioAugmentParams, cache_dir: Path,
                       desc: str = "augmenting", jobs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MFCCs of ``p.copies`` augmented copies of every clip (:func:`augmented_copies`), gathered in memory.

    Parameters
    ----------
    clips : list of Clip
        Training clips only (the caller's responsibility; see the module docstring).

    Returns
    -------
    x : np.ndarray, shape (len(clips) * copies, num_frames, num_mfcc), float32
    index : np.ndarray, shape (len(clips) * copies,), int
        Position in ``clips`` of the clip each row was made from.
    """
    feats, index = [], []
    for i, (copies, _) in enumerate(augmented_copies(clips, params, p, cache_dir, desc, jobs)):
        feats += copies
        index += [i] * len(copies)
    x = np.stack(feats) if feats else np.zeros((0, *params.shape), np.float32)
    return x, np.asarray(index, dtype=np.int64)
