"""Long recordings (voice classification on sentences, ...): every clip longer than the model's window becomes
overlapping windows of ``features.clip_seconds``, ``[windows] hop_seconds`` apart.

The split unit stays the source (speaker or recording, :func:`data.datasets.source_of`): all windows of one
recording land in its split. Each window is one row of the split files, with three more arrays than a clip split:
``recordings`` (the recording's path per row), ``durations`` (the recording's length in seconds per row) and
``ids`` made unique per window (``<path>#<k>``). A recording's prediction is the mean of its windows' scores
(:mod:`host.recordings`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import staged_outputs
from data.config import PipelineError
from data.datasets import SPLITS, Clip, file_cache_key, read_or_skip
from data.features import FeatureParams, check_audio_file, check_speech, mfcc, read_audio, trim

MODES = ("auto", "on", "off")
# Separates a recording's path from its window index in a window's id.
WINDOW_SEPARATOR = "#"


def is_windowed(split: dict[str, np.ndarray]) -> bool:
    """Whether a split (``load_split``) holds windows of long recordings."""
    return "recordings" in split


@dataclass(frozen=True)
class WindowSettings:
    """``config.toml [windows]``: ``mode`` (auto/on/off), ``hop_seconds``, ``auto_min_seconds``."""

    mode: str
    hop_seconds: float
    auto_min_seconds: float

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PipelineError(f"[windows] mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.hop_seconds <= 0:
            raise PipelineError(f"[windows] hop_seconds must be positive, got {self.hop_seconds}")
        if self.auto_min_seconds <= 0:
            raise PipelineError(f"[windows] auto_min_seconds must be positive, got {self.auto_min_seconds}")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "WindowSettings":
        return cls(**config["windows"])

    def hop_samples(self, params: FeatureParams) -> int:
        return max(1, int(round(self.hop_seconds * params.sample_rate)))

    def applies(self, clips: list[Clip]) -> bool:
        """Whether a dataset is windowed: ``on``, or ``auto`` and its median clip (from the WAV headers, unreadable
        files left to the feature stage to report) is longer than ``auto_min_seconds``."""
        if self.mode != "auto":
            return self.mode == "on"
        seconds = []
        for clip in clips:
            try:
                info = check_audio_file(clip.path)
            except PipelineError:
                continue
            seconds.append(info.frames / info.samplerate)
        return bool(seconds) and statistics.median(seconds) > self.auto_min_seconds


def window_starts(n_samples: int, window: int, hop: int) -> list[int]:
    """Start samples of the windows of a recording: every ``hop`` samples, plus one ending at the last sample
    so the tail is never dropped; one window (start 0) for a recording no longer than ``window``."""
    if n_samples <= window:
        return [0]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


def recording_windows(audio: np.ndarray, params: FeatureParams, hop: int) -> np.ndarray:
    """MFCCs of every window of one recording at ``params.sample_rate``.

    The recording is trimmed once (``trim_db``); a recording no longer than one window is then padded exactly as
    a short clip (:func:`data.features.mfcc`), a longer one cut into windows, each window's MFCCs computed from
    its own samples (what a device hearing that second computes).

    Returns
    -------
    np.ndarray, shape (n_windows, num_frames, num_mfcc), float32
    """
    audio = trim(audio, params)
    window = params.clip_samples
    if audio.shape[0] <= window:
        return mfcc(audio, params)[None]
    exact = dataclasses.replace(params, trim_db=0.0)  # a window is exactly one clip long: nothing to trim or pad
    return np.stack([mfcc(audio[s:s + window], exact) for s in window_starts(audio.shape[0], window, hop)])


def _cache_key(path: Path, params: FeatureParams, hop: int) -> str:
    return hashlib.sha1(f"{file_cache_key(path, params)}|hop={hop}".encode()).hexdigest()


def _recording_features(path: Path, params: FeatureParams, hop: float,
                        cache_dir: Path) -> tuple[np.ndarray, float]:
    """The windows' MFCCs of one recording (from the cache, or computed and cached at once) and its duration (s)."""
    info = check_audio_file(path)
    cached = cache_dir / f"{_cache_key(path, params, hop)}.npz"
    try:
        with np.load(cached, allow_pickle=False) as z:
            if z["x"].dtype == np.float32 and z["x"].shape[1:] == params.shape:
                return z["x"], info.frames / info.samplerate
    except (OSError, ValueError, EOFError, KeyError):
        pass
    audio = read_audio(path, params.sample_rate)
    check_speech(path, audio, params.sample_rate)
    x = recording_windows(audio, params, hop)
    np.savez(cached, x=x)
    return x, info.frames / info.samplerate


def extract_windows(clips: list[Clip], params: FeatureParams, hop: int, cache_dir: Path, skip_bad: bool,
                    desc: str = "windows") -> tuple[np.ndarray, list[Clip], np.ndarray, list[float], list[str]]:
    """Windows of many recordings through a per-file cache (``.npz``, read without pickle).

    Returns
    -------
    x : np.ndarray, shape (n_windows, num_frames, num_mfcc), float32
    ok : list of Clip
        The recordings that gave windows, in order.
    counts : np.ndarray, shape (len(ok),), int
        Windows per recording (rows of ``x`` in the same order).
    seconds : list of float
        Duration of each recording in ``ok`` (its WAV header).
    skipped : list of str
        ``"<file>: <reason>"`` per bad file (``skip_bad``; otherwise the first one raises).
    """
    from tqdm import tqdm

    cache_dir.mkdir(parents=True, exist_ok=True)
    feats, ok, counts, seconds, skipped = [], [], [], [], []
    for clip in tqdm(clips, desc=desc, unit="recording", mininterval=1.0, disable=None):
        got = read_or_skip(clip.path, lambda: _recording_features(clip.path, params, hop, cache_dir), skip_bad,
                           skipped)
        if got is None:
            continue
        x, duration = got
        feats.append(x)
        ok.append(clip)
        counts.append(len(x))
        seconds.append(duration)
    x = np.concatenate(feats) if feats else np.zeros((0, *params.shape), np.float32)
    return x, ok, np.array(counts, np.int64), seconds, skipped


def window_rows(clips: list[Clip], counts: np.ndarray, seconds: list[float],
                labels: list[str]) -> dict[str, np.ndarray]:
    """The per-window arrays of :func:`extract_windows`' recordings: ``y``, ``ids`` (``<path>#<k>``),
    ``sources``, ``labels``, ``recordings``, ``durations``."""
    index = {lab: i for i, lab in enumerate(labels)}
    rows = np.repeat(np.arange(len(clips)), counts)
    window_index = np.concatenate([np.arange(n) for n in counts]) if len(counts) else np.zeros(0, np.int64)
    return {"y": np.array([index[clips[r].label] for r in rows], np.int64),
            "ids": np.array([f"{clips[r].path}{WINDOW_SEPARATOR}{k}" for r, k in zip(rows, window_index)], dtype=str),
            "sources": np.array([clips[r].source for r in rows], dtype=str), "labels": np.array(labels, dtype=str),
            "recordings": np.array([str(clips[r].path) for r in rows], dtype=str),
            "durations": np.array([seconds[r] for r in rows], np.float32)}


def save_windows(path: Path, x: np.ndarray, clips: list[Clip], counts: np.ndarray, seconds: list[float],
                 labels: list[str]) -> None:
    """One windowed split as ``.npz``: :func:`data.datasets.save_split`'s arrays, one row per window, plus
    ``recordings`` and ``durations`` per row (:func:`window_rows`)."""
    np.savez(path, x=x.astype(np.float32), **window_rows(clips, counts, seconds, labels))


def prepare_windowed(req: Any, config: dict, splits: dict[str, list[Clip]], labels: list[str],
                     params: FeatureParams, windows: WindowSettings) -> dict:
    """The data stage for long recordings (called by :func:`data.prepare.prepare` with the checked splits):
    writes ``train.npz``, ``val.npz``, ``test.npz`` (one row per window) and ``dataset.json`` (with ``windows``).
    No audio-augmented copies: the overlapping windows already show every part of a recording at many offsets."""
    hop = windows.hop_samples(params)
    summary: dict = {"dataset": req.dataset, "labels": labels, "features": params.to_dict(),
                     "windows": dataclasses.asdict(windows) | {"hop_samples": hop}, "splits": {}, "skipped": []}
    final = req.build / "features"
    with staged_outputs(req.build) as stage:
        out = stage / "features"
        out.mkdir()
        for split in SPLITS:
            x, ok, counts, seconds, skipped = extract_windows(
                splits[split], params, hop, req.build / "cache" / "windows", req.skip_bad, desc=f"windows {split}")
            summary["skipped"] += skipped
            save_windows(out / f"{split}.npz", x, ok, counts, seconds, labels)
            summary["splits"][split] = {
                "clips": int(counts.sum()), "recordings": len(ok), "sources": len({c.source for c in ok}),
                "seconds": {lab: round(sum(s for c, s in zip(ok, seconds) if c.label == lab), 2) for lab in labels},
                "per_label": {lab: int(sum(n for c, n in zip(ok, counts) if c.label == lab)) for lab in labels}}
        (out / "dataset.json").write_text(json.dumps(summary, indent=1))
    counts_text = ", ".join(f"{s} {summary['splits'][s]['clips']} windows of {summary['splits'][s]['recordings']}"
                            for s in SPLITS)
    print(f"features: {counts_text} recordings -> {final}" + (
        f" ({len(summary['skipped'])} bad files skipped, listed in {final / 'dataset.json'})"
        if summary["skipped"] else ""))
    return summary
