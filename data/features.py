"""MFCC features: the one definition of the audio front end (``FeatureParams``) and its implementation."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.config import PipelineError, load_config

# A clip whose peak amplitude stays below this (full scale = 1.0) holds no speech: about -80 dBFS.
SILENCE_PEAK = 1e-4


@dataclass(frozen=True)
class FeatureParams:
    """Every parameter of the audio front end; all shapes derive from these.

    Attributes
    ----------
    sample_rate : int
        Clips are resampled to this rate (Hz).
    clip_seconds : float
        Clips are padded (centred) or cropped (loudest window) to this length.
    window_ms, hop_ms : float
        STFT window and hop.
    n_fft : int
        FFT size (>= window length).
    num_mels : int
        Mel bands.
    num_mfcc : int
        Cepstral coefficients kept (the feature width).
    fmin, fmax : float
        Mel filterbank range (Hz); ``fmax`` < 4000 makes 8 kHz and 16 kHz recordings comparable.
    trim_db : float
        Leading/trailing audio quieter than this many dB below the loudest frame is cut before padding; 0 keeps
        the clip whole.
    """

    sample_rate: int
    clip_seconds: float
    window_ms: float
    hop_ms: float
    n_fft: int
    num_mels: int
    num_mfcc: int
    fmin: float
    fmax: float
    trim_db: float

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise PipelineError(f"features.sample_rate must be positive, got {self.sample_rate}")
        if self.clip_seconds <= 0:
            raise PipelineError(f"features.clip_seconds must be positive, got {self.clip_seconds}")
        if not 0 < self.hop_ms <= self.window_ms:
            raise PipelineError(f"features.hop_ms must be in (0, window_ms], got {self.hop_ms}")
        if self.n_fft < self.win_length:
            raise PipelineError(f"features.n_fft ({self.n_fft}) must be >= the window ({self.win_length} samples)")
        if not 0 < self.num_mfcc <= self.num_mels:
            raise PipelineError(f"features.num_mfcc must be in 1..num_mels ({self.num_mels}), got {self.num_mfcc}")
        if self.trim_db < 0:
            raise PipelineError(f"features.trim_db must be >= 0 (0: no trimming), got {self.trim_db}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise PipelineError(
                f"features: need 0 <= fmin < fmax <= sample_rate/2, got fmin={self.fmin} fmax={self.fmax}")

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.window_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def num_frames(self) -> int:
        """Frames per clip: one per hop (100 for 1 s at 10 ms)."""
        return self.clip_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """Feature matrix shape ``(num_frames, num_mfcc)``."""
        return (self.num_frames, self.num_mfcc)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """Short hash of the parameters: part of every feature-cache key."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> "FeatureParams":
        """The training-time parameters of ``config.toml [features]`` (inference reads the model's instead)."""
        return cls(**(config or load_config())["features"])


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Read a WAV file as mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : Path
        WAV file of any sample rate, mono or multi-channel, any sample format libsndfile reads.
    sample_rate : int
        Target rate in Hz.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32 in [-1, 1]

    Raises
    ------
    PipelineError
        Naming the file: unreadable, not WAV, empty, or silent.
    """
    import librosa
    import soundfile as sf

    if path.suffix.lower() != ".wav":
        raise PipelineError(f"{path}: not a .wav file")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        raise PipelineError(f"{path}: not a readable WAV file ({str(e).strip() or type(e).__name__})") from None
    if audio.shape[0] == 0:
        raise PipelineError(f"{path}: empty clip (no samples)")
    audio = audio.mean(axis=1)
    if not np.all(np.isfinite(audio)):
        raise PipelineError(f"{path}: samples are not finite numbers")
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise PipelineError(f"{path}: silent clip (peak below {SILENCE_PEAK})")
    if rate != sample_rate:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    return audio.astype(np.float32)


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Pad a short clip symmetrically, or crop a long one to its loudest window of ``n`` samples.

    Parameters
    ----------
    audio : np.ndarray, shape (m,)
    n : int

    Returns
    -------
    np.ndarray, shape (n,)
    """
    m = audio.shape[0]
    if m <= n:
        left = (n - m) // 2
        return np.pad(audio, (left, n - m - left))
    energy = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    start = int(np.argmax(energy[n:] - energy[:-n]))
    return audio[start:start + n]


def trim(audio: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Cut leading/trailing audio more than ``params.trim_db`` below the loudest frame (frame RMS, one frame per hop).

    Parameters
    ----------
    audio : np.ndarray, shape (n_samples,)
    params : FeatureParams

    Returns
    -------
    np.ndarray, shape (m,), m <= n_samples (the clip itself when ``trim_db`` is 0)
    """
    import librosa

    if not params.trim_db:
        return audio
    trimmed, _ = librosa.effects.trim(audio, top_db=params.trim_db, frame_length=params.win_length,
                                      hop_length=params.hop_length)
    return trimmed


def mfcc(audio: np.ndarray, params: FeatureParams) -> np.ndarray:
    """MFCCs of one clip already at ``params.sample_rate``: trimmed (:func:`trim`), centred in the clip length
    (:func:`fit_length`), then librosa's MFCC.

    Parameters
    ----------
    audio : np.ndarray, shape (n_samples,)
    params : FeatureParams

    Returns
    -------
    np.ndarray, shape (num_frames, num_mfcc), float32
    """
    import librosa

    clip = fit_length(trim(audio, params), params.clip_samples)
    m = librosa.feature.mfcc(
        y=clip, sr=params.sample_rate, n_mfcc=params.num_mfcc, n_fft=params.n_fft,
        win_length=params.win_length, hop_length=params.hop_length, n_mels=params.num_mels,
        fmin=params.fmin, fmax=params.fmax, center=True)
    # center=True gives one extra frame for the clip's end; keep exactly one frame per hop.
    return m.T[:params.num_frames].astype(np.float32)


def extract_file(path: Path, params: FeatureParams) -> np.ndarray:
    """MFCCs of one WAV file.

    Returns
    -------
    np.ndarray, shape (num_frames, num_mfcc), float32
    """
    return mfcc(read_audio(Path(path), params.sample_rate), params)


def _center(x: np.ndarray, per_utterance_mean: bool) -> np.ndarray:
    """Subtract each clip's mean over its frames (axis -2) when ``per_utterance_mean``; float32 copy otherwise."""
    x = np.asarray(x, np.float32)
    return x - x.mean(axis=-2, keepdims=True) if per_utterance_mean else x.copy()


def fit_norm(x: np.ndarray, per_utterance_mean: bool, clip: float = 0.0) -> dict[str, Any]:
    """Normalization statistics of training features.

    Parameters
    ----------
    x : np.ndarray, shape (n, num_frames, num_mfcc)
    per_utterance_mean : bool
        Subtract every clip's own per-coefficient mean first (cepstral mean normalization).
    clip : float
        Normalized values are clipped to ``[-clip, clip]`` (0: never).

    Returns
    -------
    dict
        ``per_utterance_mean`` (bool), ``mean`` and ``std`` (lists of ``num_mfcc`` floats, fitted after the
        per-utterance step), ``clip``; stored with the model, never recomputed later.
    """
    if clip < 0:
        raise PipelineError(f"normalization.clip must be >= 0 (0: no clipping), got {clip}")
    flat = _center(x, per_utterance_mean).reshape(-1, x.shape[-1]).astype(np.float64)
    # A floor on std keeps a constant coefficient from blowing up the scale.
    return {"per_utterance_mean": bool(per_utterance_mean), "mean": flat.mean(axis=0).tolist(),
            "std": np.maximum(flat.std(axis=0), 1e-3).tolist(), "clip": float(clip)}


def apply_norm(x: np.ndarray, norm: dict[str, Any]) -> np.ndarray:
    """Normalize features with stored statistics: ``((x - clip mean if per_utterance_mean) - mean) / std``, then
    clipped to ``[-clip, clip]`` when ``clip`` is set.

    Parameters
    ----------
    x : np.ndarray, shape (..., num_frames, num_mfcc)
    norm : dict
        From :func:`fit_norm`.

    Returns
    -------
    np.ndarray, same shape, float32
    """
    missing = [k for k in ("per_utterance_mean", "clip") if k not in norm]
    if missing:
        raise PipelineError(f"normalization statistics lack {missing}: rebuild with `make train`")
    x = _center(x, norm["per_utterance_mean"])
    z = (x - np.asarray(norm["mean"], np.float32)) / np.asarray(norm["std"], np.float32)
    return (np.clip(z, -norm["clip"], norm["clip"]) if norm["clip"] else z).astype(np.float32)
