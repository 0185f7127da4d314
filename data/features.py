"""MFCC features: the one definition of the audio front end (``FeatureParams``) and its implementation."""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.config import PipelineError, load_config

# A clip whose peak amplitude stays below this (full scale = 1.0) holds no speech: about -80 dBFS.
SILENCE_PEAK = 1e-4
# Every clip is read as the 16-bit samples a device records and receives (16-bit PCM at the model's rate): after
# resampling, samples are rounded to this full scale, so the device's front end sees exactly the training audio.
INT16_FULL_SCALE = 32768
# Part of every feature-cache key: bumped when the front end changes what the same parameters compute (2: audio
# rounded to 16-bit samples; speech longer than a clip trimmed again in its loudest clip-long window; 3: trimmed
# audio centred on the hop grid).
FRONTEND_VERSION = 3


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
        """Short hash of the parameters (and of the front end's version): part of every feature-cache key."""
        key = {**self.to_dict(), "frontend": FRONTEND_VERSION}
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_config(cls, config: dict[str, Any] | None = None) -> "FeatureParams":
        """The training-time parameters of ``config.toml [features]`` (inference reads the model's instead)."""
        return cls(**(config or load_config())["features"])


# What a WAV header may ask for, checked before anything is decoded (a 10 KB file declaring 1 Hz once took 1.8 GB
# to resample): telephone-band 4 kHz to studio 192 kHz, at most 8 channels, and a length bound per use.
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 8
# Longest speech clip read (the model sees 1 s; longer recordings are cropped to their loudest window).
MAX_CLIP_SECONDS = 60.0
# Longest background-noise recording read (Speech Commands' are 60-95 s).
MAX_NOISE_SECONDS = 600.0
# Channels whose mono mix peaks below this fraction (-40 dB) of the loudest channel cancel each other out.
CANCEL_RATIO = 0.01
# Frames read at a time (read_audio): 1 s at 192 kHz, 6 MB for 8 channels of float32.
READ_BLOCK_FRAMES = 192_000
# Speech checks (measured on the 2,830 real clips of ../shared/data: FSDD, Speech Commands digits, other digits).
# Shortest clip that can hold a spoken digit (the shortest real one is 0.144 s).
MIN_CLIP_SECONDS = 0.1
# A word has an envelope: in at least one band of STEADY_BANDS_HZ the energy of 25 ms frames (10 ms hop) varies by
# more than STEADY_DB over the clip. Real clips vary by 15.4 dB or more (median 46); a tone, square wave or
# sawtooth by at most 1 dB. Steady noise is not caught (white noise varies by about 17 dB in its narrowest band).
STEADY_DB = 10.0
STEADY_BANDS_HZ = (100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)
STEADY_FRAME_S, STEADY_HOP_S = 0.025, 0.010
# A tone or glide is no word (issue 30; the device's front end applies the same rule, firmware/src/frontend): in
# more than half of the loud frames of the window a model sees (in-band power within TONE_LOUD_DB of its loudest
# frame), TONE_PEAK_SHARE of the power between TONE_LOW_HZ and the mel range's top (fmax) lies in TONE_PEAK_BINS
# adjacent FFT bins. Measured (docs/nothing.md): of the 3,222 real clips of ../shared/data no clip has more than 24 %
# of such frames; of generated tones 100 % and glides 99 % are flagged. Below 100 Hz lie mains hum and the slope of
# brown noise, which would make a quiet word or a noise look like a tone.
TONE_LOW_HZ = 100.0
TONE_PEAK_BINS = 5
TONE_PEAK_SHARE = 0.99
TONE_LOUD_DB = 20.0


def unusable_entry(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a regular file (link, folder, device, permissions), or ``None``."""
    try:
        st = path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return f"dangling symbolic link (to {os.readlink(path)})"
        return e.strerror or str(e)
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not a WAV file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (device, pipe or socket)"
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    return None


def check_audio_file(path: Path, max_seconds: float = MAX_CLIP_SECONDS) -> Any:
    """Check, without decoding, that ``path`` is a readable WAV file whose header asks for a sane amount of audio.

    Parameters
    ----------
    path : Path
    max_seconds : float
        Longest duration accepted.

    Returns
    -------
    soundfile._SoundFileInfo
        The header (``samplerate``, ``channels``, ``frames``).

    Raises
    ------
    PipelineError
        Naming the file: not a .wav name, a link/folder/unreadable entry, not WAV, or a sample rate, channel count or
        duration out of bounds.
    """
    import soundfile as sf

    if path.suffix.lower() != ".wav":
        raise PipelineError(f"{path}: not a .wav file")
    problem = unusable_entry(path)
    if problem:
        raise PipelineError(f"{path}: {problem}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        raise PipelineError(f"{path}: not a readable WAV file ({str(e).strip() or type(e).__name__})") from None
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise PipelineError(f"{path}: sample rate {info.samplerate} Hz outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise PipelineError(f"{path}: {info.channels} channels (at most {MAX_CHANNELS})")
    if info.frames > max_seconds * info.samplerate:
        raise PipelineError(f"{path}: {info.frames / info.samplerate:.1f} s long (at most {max_seconds:g} s)")
    return info


def read_audio(path: Path, sample_rate: int, max_seconds: float = MAX_CLIP_SECONDS) -> np.ndarray:
    """Read a WAV file as mono float32 at ``sample_rate``.

    The file is read in blocks of ``READ_BLOCK_FRAMES`` and mixed to mono as it is read, so memory follows the mono
    signal, not the file: a legal 8-channel 192 kHz minute takes one channel's worth, not eight (and not float64).

    Parameters
    ----------
    path : Path
        WAV file of 4-192 kHz, 1-8 channels, any sample format libsndfile reads.
    sample_rate : int
        Target rate in Hz.
    max_seconds : float
        Longest recording accepted, checked in the header before decoding.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32 in [-1, 1], on the 16-bit grid (multiples of 1 / ``INT16_FULL_SCALE``)

    Raises
    ------
    PipelineError
        Naming the file: see :func:`check_audio_file`; or empty, not finite, silent, a constant (DC) signal, or
        channels that cancel when mixed to mono.
    """
    import librosa
    import soundfile as sf

    info = check_audio_file(path, max_seconds)
    mono = np.empty(info.frames, np.float32)
    channels = _ChannelStats(info.channels)
    filled = 0
    try:
        with sf.SoundFile(str(path)) as f:
            # frames: never decode more than the header that was checked declares
            while filled < info.frames:
                block = f.read(min(READ_BLOCK_FRAMES, info.frames - filled), dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.all(np.isfinite(block)):
                    raise PipelineError(f"{path}: samples are not finite numbers")
                channels.add(block)
                mono[filled:filled + block.shape[0]] = block.mean(axis=1)
                filled += block.shape[0]
            rate = f.samplerate
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        raise PipelineError(f"{path}: not a readable WAV file ({str(e).strip() or type(e).__name__})") from None
    if filled == 0:
        raise PipelineError(f"{path}: empty clip (no samples)")
    mono = mono[:filled]
    channels.check(path, mono)
    if rate != sample_rate:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate)
    return to_int16(mono).astype(np.float32) / INT16_FULL_SCALE


class _ChannelStats:
    """Per-channel sum, minimum and maximum of a recording read block by block: enough for the sound checks that
    once needed every channel in memory (silence, a DC offset, channels that cancel in the mono mix)."""

    def __init__(self, channels: int) -> None:
        self.n = 0
        self.sum = np.zeros(channels, np.float64)
        self.min = np.full(channels, np.inf, np.float32)
        self.max = np.full(channels, -np.inf, np.float32)

    def add(self, block: np.ndarray) -> None:
        self.n += block.shape[0]
        self.sum += block.sum(axis=0, dtype=np.float64)
        self.min = np.minimum(self.min, block.min(axis=0))
        self.max = np.maximum(self.max, block.max(axis=0))

    def check(self, path: Path, mono: np.ndarray) -> None:
        """Refuse a clip that is silent, a constant offset, or whose channels cancel in the ``mono`` mix."""
        mean = self.sum / self.n
        # the largest distance of a sample from its channel's mean: a DC offset is no sound
        loudest = float(np.max(np.maximum(self.max - mean, mean - self.min)))
        if loudest < SILENCE_PEAK:
            offset = float(np.max(np.abs(mean)))
            if offset >= SILENCE_PEAK:
                raise PipelineError(f"{path}: constant signal (a DC offset of {offset:.3g}, no sound)")
            raise PipelineError(f"{path}: silent clip (peak below {SILENCE_PEAK})")
        if len(mean) > 1:
            mixed = float(np.max(np.abs(mono - mean.mean())))
            if mixed < CANCEL_RATIO * loudest:
                raise PipelineError(f"{path}: channels cancel when mixed to mono (mono peak {mixed:.3g}, loudest "
                                    f"channel {loudest:.3g})")


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float audio (full scale 1.0) as 16-bit samples: rounded half to even, saturated."""
    scaled = np.round(np.asarray(audio, np.float64) * INT16_FULL_SCALE)
    return np.clip(scaled, -INT16_FULL_SCALE, INT16_FULL_SCALE - 1).astype(np.int16)


def band_variation_db(audio: np.ndarray, sample_rate: int) -> float:
    """How much the loudness of a clip varies: over the bands of ``STEADY_BANDS_HZ`` (below Nyquist), the largest
    range (max - min, dB) of 25 ms Hann-windowed frame energies (10 ms hop, frames inside the clip only).

    Parameters
    ----------
    audio : np.ndarray, shape (n_samples,), at least one frame long
    sample_rate : int

    Returns
    -------
    float
        dB; 0 for a perfectly steady signal.
    """
    win, hop = round(sample_rate * STEADY_FRAME_S), round(sample_rate * STEADY_HOP_S)
    frames = np.lib.stride_tricks.sliding_window_view(audio.astype(np.float64) - audio.mean(), win)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1 / sample_rate)
    floor = win * SILENCE_PEAK ** 2  # digital silence counts as -80 dBFS, not -inf
    ranges = []
    for lo, hi in zip(STEADY_BANDS_HZ[:-1], STEADY_BANDS_HZ[1:]):
        band = (freqs >= lo) & (freqs < hi)
        if band.any():
            db = 10 * np.log10(np.maximum(power[:, band].sum(axis=1), floor))
            ranges.append(float(db.max() - db.min()))
    return max(ranges)


def check_speech(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Refuse a clip that cannot hold a spoken word: shorter than ``MIN_CLIP_SECONDS``, or steady (a tone, buzz or
    square wave: no band varies by more than ``STEADY_DB``). Noise recordings skip this check.

    Raises
    ------
    PipelineError
        Naming the file and the reason.
    """
    seconds = audio.shape[0] / sample_rate
    if seconds < MIN_CLIP_SECONDS:
        raise PipelineError(f"{path}: too short to hold a word ({seconds:.3f} s, at least {MIN_CLIP_SECONDS:g} s)")
    variation = band_variation_db(audio, sample_rate)
    if variation <= STEADY_DB:
        raise PipelineError(f"{path}: steady signal, not speech (loudness varies by {variation:.1f} dB, a word by more "
                            f"than {STEADY_DB:g} dB: a tone, hum or square wave?)")


def tone_bins(params: FeatureParams) -> tuple[int, int]:
    """FFT bins ``[first, end)`` of the tone check: from ``TONE_LOW_HZ`` to ``params.fmax``."""
    first = int(np.ceil(TONE_LOW_HZ * params.n_fft / params.sample_rate))
    return first, int(np.floor(params.fmax * params.n_fft / params.sample_rate)) + 1


def is_tone(audio: np.ndarray, params: FeatureParams) -> bool:
    """Whether the window a model sees of ``audio`` (:func:`mfcc`'s frames) is a tone or glide, not speech: the
    host's version of the device's check (``frontend::LastWindowIsTone``, the same rule and constants: see
    ``TONE_PEAK_SHARE``). The host surfaces (predict, evaluate, the demo, the listener simulation) answer such a
    clip "not a word", as the board does."""
    import librosa

    clip = fit_length(trim(clip_window(audio, params), params), params.clip_samples, params.hop_length)
    stft = librosa.stft(clip, n_fft=params.n_fft, win_length=params.win_length, hop_length=params.hop_length,
                        center=True)
    first, end = tone_bins(params)
    power = (np.abs(stft[first:end, :params.num_frames]) ** 2).T.astype(np.float64)
    band = power.sum(axis=1)
    if not band.max() > 0:
        return False
    sums = np.cumsum(np.pad(power, ((0, 0), (1, 0))), axis=1)
    peak = (sums[:, TONE_PEAK_BINS:] - sums[:, :-TONE_PEAK_BINS]).max(axis=1)
    loud = band >= band.max() * 10 ** (-TONE_LOUD_DB / 10)
    return 2 * int((peak[loud] >= TONE_PEAK_SHARE * band[loud]).sum()) > int(loud.sum())


def fit_length(audio: np.ndarray, n: int, grid: int = 1) -> np.ndarray:
    """Pad a short clip symmetrically, or crop a long one to its loudest window of ``n`` samples.

    Parameters
    ----------
    audio : np.ndarray, shape (m,)
    n : int
    grid : int
        The padding before the clip is a multiple of this (rounded down): :func:`mfcc` passes the hop, so that a
        clip cut from a stream on the hop grid keeps every frame on the stream's frame grid (the device's listener
        then computes each frame once, firmware/src/frontend).

    Returns
    -------
    np.ndarray, shape (n,)
    """
    m = audio.shape[0]
    if m <= n:
        left = (n - m) // 2 // grid * grid
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
    start, end = trim_bounds(audio, params)
    return audio[start:end]


def trim_bounds(audio: np.ndarray, params: FeatureParams) -> tuple[int, int]:
    """``[start, end)`` of the part of ``audio`` that :func:`trim` keeps (the whole clip when ``trim_db`` is 0)."""
    import librosa

    if not params.trim_db:
        return 0, audio.shape[0]
    _, (start, end) = librosa.effects.trim(audio, top_db=params.trim_db, frame_length=params.win_length,
                                           hop_length=params.hop_length)
    return int(start), int(end)


def clip_window(audio: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The part of a recording that a device hears, at most one clip long (what the host sends it).

    A recording that fits is heard whole. Of a longer one, its speech (the part :func:`trim_bounds` keeps) with
    half a window of margin either side, starting on the hop grid: the frames that decide the trim then see the same
    samples, so trimming the window finds the same speech (the margins shrink when speech nearly fills a clip).
    Speech longer than a clip: its loudest clip-long window.

    Returns
    -------
    np.ndarray, shape (m,), m <= ``params.clip_samples``
    """
    n, hop, half = params.clip_samples, params.hop_length, params.win_length // 2
    if audio.shape[0] <= n:
        return audio
    start, end = trim_bounds(audio, params)
    if end - start > n:
        return fit_length(audio[start:end], n)
    first = max(0, (start - half) // hop * hop)
    last = min(audio.shape[0], end + half)
    if last - first > n:  # little room: the margins shrink, the first sample stays on the hop grid
        first = min(start, -(-(last - n) // hop) * hop)
        last = min(last, first + n)
    return audio[first:last]


def mfcc(audio: np.ndarray, params: FeatureParams) -> np.ndarray:
    """MFCCs of one clip already at ``params.sample_rate``: the part a device hears (:func:`clip_window`), trimmed
    (:func:`trim`), centred in the clip length on the hop grid (:func:`fit_length`), then librosa's MFCC. The
    device's front end (firmware/src/frontend) computes the same from that window, so its features are the training
    features.

    Parameters
    ----------
    audio : np.ndarray, shape (n_samples,)
    params : FeatureParams

    Returns
    -------
    np.ndarray, shape (num_frames, num_mfcc), float32
    """
    import librosa

    clip = fit_length(trim(clip_window(audio, params), params), params.clip_samples, params.hop_length)
    m = librosa.feature.mfcc(
        y=clip, sr=params.sample_rate, n_mfcc=params.num_mfcc, n_fft=params.n_fft,
        win_length=params.win_length, hop_length=params.hop_length, n_mels=params.num_mels,
        fmin=params.fmin, fmax=params.fmax, center=True)
    # center=True gives one extra frame for the clip's end; keep exactly one frame per hop.
    return m.T[:params.num_frames].astype(np.float32)


def extract_file(path: Path, params: FeatureParams) -> np.ndarray:
    """MFCCs of one WAV file of speech.

    Returns
    -------
    np.ndarray, shape (num_frames, num_mfcc), float32

    Raises
    ------
    PipelineError
        Naming the file: see :func:`read_audio` and :func:`check_speech`.
    """
    audio = read_audio(Path(path), params.sample_rate)
    check_speech(Path(path), audio, params.sample_rate)
    return mfcc(audio, params)


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
