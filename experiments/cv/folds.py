"""The folds of a study: the clips it draws from (every real folder and the synthetic set, with their audio-augmented
copies), which real speakers each fold holds out, and the training, validation and test splits of one fold."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from data.augment_audio import AudioAugmentParams, augmented_features
from data.config import PipelineError
from data.datasets import LAYOUT_FSDD, Clip, RealSource, assign_splits, extract_clips, load_real
from data.features import FeatureParams
from data.prepare import SPLIT_MIN_SPEAKERS, synth_clips

# Smoke runs keep this many speakers per source (the first by speaker hash), one take per speaker and word.
SMOKE_SPEAKERS_PER_SOURCE = 6
# Kinds of real sources, each with its own targets (:func:`source_kind`).
KIND_FSDD, KIND_SPEECH_COMMANDS, KIND_OTHER = "fsdd-style", "speech-commands", "other"
# The learning curve: each fold retrained on this many of its real training voices (a fixed pseudo-random order of
# them; the last point is all of them).
CURVE_VOICES = (0, 2, 8, 32)


def split_arrays(x: np.ndarray, clips: list[Clip], labels: list[str]) -> dict[str, np.ndarray]:
    """The split format of :func:`data.datasets.load_split` for clips already in memory."""
    index = {lab: i for i, lab in enumerate(labels)}
    return {"x": x, "y": np.array([index[c.label] for c in clips], np.int64),
            "ids": np.array([str(c.path) for c in clips], dtype=str),
            "sources": np.array([c.source for c in clips], dtype=str), "labels": np.array(labels, dtype=str)}


def _take(split: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: (v if k == "labels" else v[mask]) for k, v in split.items()}


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: (a[k] if k == "labels" else np.concatenate([a[k], b[k]])) for k in a}


def speaker_hash(text: str) -> int:
    """A stable pseudo-random number of a speaker id (the same on every machine and run)."""
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def source_kind(src: RealSource) -> str:
    """How a real source is reported: FSDD-style (its layout), Speech Commands (many speakers), or other."""
    if src.layout == LAYOUT_FSDD:
        return KIND_FSDD
    return KIND_SPEECH_COMMANDS if len({c.source for c in src.clips}) >= SPLIT_MIN_SPEAKERS else KIND_OTHER


def smoke_clips(clips: list[Clip]) -> list[Clip]:
    """Smoke-sized clips of a real source: the first ``SMOKE_SPEAKERS_PER_SOURCE`` speakers by hash, one take per
    speaker and word (the first by path)."""
    keep = set(sorted({c.source for c in clips}, key=speaker_hash)[:SMOKE_SPEAKERS_PER_SOURCE])
    seen: set[tuple[str, str]] = set()
    out = []
    for c in sorted(clips, key=lambda c: str(c.path)):
        if c.source in keep and (c.source, c.label) not in seen:
            seen.add((c.source, c.label))
            out.append(c)
    return out


def build_pool(build: Path, folders: list[Path], config: dict, smoke: bool,
               noise_dir: Path | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Features of every clip the folds draw from (cached in ``build/cache``).

    Parameters
    ----------
    folders : list of Path
        Real-speech folders of any layout (FSDD, Speech Commands, ``<label>/*.wav``); a source's
        ``_background_noise_`` is the augmentation's noise unless ``noise_dir`` is given.

    Returns
    -------
    pool : dict
        ``synth_train``, ``synth_val``, ``real`` (every real clip) and ``synth_train_aug``, ``real_aug`` (their
        audio-augmented copies; ``ids`` names the original clip), each in the :func:`split_arrays` format, and
        ``groups``: each real speaker's source name.
    sources : list of dict
        ``name``, ``root``, ``layout``, ``kind``, ``speakers`` (sorted), ``clips``.
    """
    params = FeatureParams.from_config(config)
    labels = list(config["dataset"]["labels"])
    ds = config["dataset"]
    loaded = load_real(folders, labels)
    names = [src.name for src in loaded]
    if len(set(names)) != len(names):
        raise PipelineError(f"cv: two source folders share a name ({names}); reports name sources by folder")
    real, sources, groups = [], [], {}
    for src in loaded:
        clips = smoke_clips(src.clips) if smoke else src.clips
        real += clips
        speakers = sorted({c.source for c in clips})
        groups.update({sp: src.name for sp in speakers})
        sources.append({"name": src.name, "root": str(src.root), "layout": src.layout, "kind": source_kind(src),
                        "speakers": speakers, "clips": len(clips)})
    synth = assign_splits(synth_clips(build, config, smoke), ds["val_percent"], ds["test_percent"])
    aug = AudioAugmentParams.from_config(config, noise_dir or next((s.noise_dir for s in loaded if s.noise_dir), None))
    cache = build / "cache"
    pool: dict[str, Any] = {"groups": groups}
    for name, clips in (("synth_train", synth["train"]), ("synth_val", synth["val"]), ("real", real)):
        x, ok, _ = extract_clips(clips, params, cache / "features", False, desc=f"features {name}")
        pool[name] = split_arrays(x, ok, labels)
        if name != "synth_val":  # validation clips are never augmented
            x_aug, index = augmented_features(ok, params, aug, cache / "augmented", desc=f"augmenting {name}")
            pool[f"{name}_aug"] = split_arrays(x_aug, [ok[i] for i in index], labels)
    return pool, sources


def assign_folds(speakers: dict[str, list[str]], folds: int) -> dict[str, int]:
    """Fold of every real speaker.

    Parameters
    ----------
    speakers : dict
        Source name -> its speakers.
    folds : int
        ``[cv] real_folds``.

    Returns
    -------
    dict
        Speaker -> fold (0..folds-1): a source with at most ``folds`` speakers gives each its own fold (in sorted
        order: FSDD's four speakers are leave-one-speaker-out), a larger one spreads its speakers by a hash of their
        id (stable when data is added).
    """
    if folds < 2:
        raise PipelineError(f"config.toml [cv]: real_folds must be >= 2, got {folds}")
    out: dict[str, int] = {}
    for _, names in sorted(speakers.items()):
        names = sorted(names)
        for i, sp in enumerate(names):
            out[sp] = i if len(names) <= folds else speaker_hash(sp) % folds
    return out


def fold_plan(sources: list[dict[str, Any]], folds: int, only: list[str] | None = None) -> dict[str, int]:
    """Fold of every held-out speaker: :func:`assign_folds`, or with ``only`` (``--speakers``) one fold per named
    speaker, the others training in every fold."""
    speakers = sorted(sp for src in sources for sp in src["speakers"])
    if len(speakers) < 2:
        raise PipelineError(f"cv: speaker-independent folds need >= 2 real speakers, found {speakers}")
    if only:
        unknown = sorted(set(only) - set(speakers))
        if unknown:
            raise PipelineError(f"--speakers: no real clips of {unknown} (speakers: {speakers})")
        return {sp: k for k, sp in enumerate(sorted(set(only)))}
    return assign_folds({src["name"]: src["speakers"] for src in sources}, folds)


def make_fold(pool: dict[str, dict], holdout: list[str],
              train_speakers: list[str] | None = None) -> tuple[dict, dict, dict, dict]:
    """Train / augmented-train / validation / test splits of one fold.

    Parameters
    ----------
    pool : dict
        From :func:`build_pool`.
    holdout : list of str
        Real speakers that form the test split (all real speakers: the synthetic-only model).
    train_speakers : list of str, optional
        Real speakers that train (default: every real speaker not held out); the learning curve trains on subsets.

    Returns
    -------
    train, train_aug, val, test : dict
        ``train`` = synthetic training speakers + the real training speakers; ``train_aug`` = augmented copies of
        exactly those clips; ``val`` = synthetic validation speakers; ``test`` = the held-out speakers' clips.
    """
    real = pool["real"]
    unknown = sorted(set(holdout) - set(real["sources"].tolist()))
    if unknown or not holdout:
        raise PipelineError(f"cv: held-out speakers {unknown or holdout} have no real clips")
    if train_speakers is None:
        train_speakers = sorted(set(real["sources"].tolist()) - set(holdout))
    out = np.isin(real["sources"], holdout)
    keep, keep_aug = np.isin(real["sources"], train_speakers), np.isin(pool["real_aug"]["sources"], train_speakers)
    test = _take(real, out)
    train = _concat(pool["synth_train"], _take(real, keep))
    train_aug = _concat(pool["synth_train_aug"], _take(pool["real_aug"], keep_aug))
    val = pool["synth_val"]
    leaked = set(test["sources"].tolist()) & (set(train["sources"].tolist()) | set(train_aug["sources"].tolist())
                                              | set(val["sources"].tolist()))
    if leaked or not set(train_aug["ids"].tolist()) <= set(train["ids"].tolist()):
        raise PipelineError(f"cv: fold leaks held-out speakers {sorted(leaked)} or foreign augmented clips")
    return train, train_aug, val, test


def curve_subsets(train_speakers: list[str], voices: tuple[int, ...] = CURVE_VOICES) -> list[list[str]]:
    """Nested subsets of a fold's real training speakers, one per point of the learning curve: the first ``k`` in
    a fixed pseudo-random order (speaker hash) for every ``k`` of ``voices`` below their number, then all."""
    order = sorted(train_speakers, key=speaker_hash)
    return [order[:k] for k in voices if k < len(order)] + [order]
