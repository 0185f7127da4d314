"""The data stage: build a dataset, split it by speaker, write MFCC features to ``build/features/``.

Splits are by speaker (source) hash. In a combined dataset (``fsdd+synth``, ``folder+synth``) every real speaker
goes to training unless ``holdout`` names it: a corpus of a handful of real speakers (FSDD has four) cannot be
split by hash sensibly, the real speakers are the most valuable training data, and the synthetic speakers still
give validation/test splits. Real-speaker accuracy comes from ``make cv`` (leave-one-speaker-out).

``real`` datasets (``--real`` folders of any layout, :func:`data.datasets.load_real`) and the ``sample`` shipped
with the repository add real sources: a source with many speakers (Speech Commands) is split by speaker hash (or
its published lists), a small one trains whole (``SPLIT_MIN_SPEAKERS``); a source's ``_background_noise_`` folder
is the augmentation's real noise when no ``--noise-dir`` is given.

Writes ``train.npz``, ``val.npz``, ``test.npz``, ``train_aug.npz`` (audio-augmented copies of the training clips
only, ``config.toml [augment_audio]``) and ``dataset.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from data.artifacts import staged_outputs
from data.augment_audio import AudioAugmentParams, augmented_copies
from data.config import PipelineError, load_config
from data.config import REPO_ROOT
from data.datasets import (SPLITS, Clip, RealSource, SplitWriter, assign_splits, clip_features, load_audiomnist,
                           check_splits, load_fsdd, load_folder, load_real, load_speech_commands, split_rows)
from data.features import FeatureParams
from data.nothing import NOISE_DIR_DEFAULT, SILENCE, UNKNOWN, check_extra_classes, silence_clips, unknown_clips
from data.regression import prepare_regression
from data.synth import generate, is_synthetic
from data.windows import WindowSettings, prepare_windowed
from data.words import words_clips

DATASETS = ("synth", "fsdd", "fsdd+synth", "folder", "folder+synth", "speech_commands", "audiomnist",
            "audiomnist+synth", "real", "real+synth", "sample+synth", "real+sample+synth")
# The Speech Commands sample shipped with the repository (CC BY 4.0, see its README): the `sample` part of a dataset.
SAMPLE_DIR = REPO_ROOT / "data" / "speech_commands_sample"
# In a combined dataset, a real source with at least this many speakers is split by speaker hash like the synthetic
# set (its held-out speakers measure real-speech accuracy); a smaller one (FSDD's four, a single voice) trains whole.
SPLIT_MIN_SPEAKERS = 20
# Smoke runs (tests) synthesize this many speakers with one take each: enough for every split to hold all classes.
SMOKE_SPEAKERS = 24
# ... plus this many Flite speakers (when the configuration has any), so smoke runs exercise both engines.
SMOKE_FLITE_SPEAKERS = 6
# ... and speak this many of the unknown words (extra class _unknown_).
SMOKE_UNKNOWN_WORDS = 2
# Silence clips per noise "source" (the split unit of the _silence_ class, data/nothing.py).
NOTHING_CLIPS_PER_SOURCE = 4


@dataclass(frozen=True)
class DataRequest:
    """What the data stage is asked to build (the command line of ``python -m data``)."""

    dataset: str
    build: Path
    fsdd_dir: Path
    data_dir: Path | None = None
    holdout: tuple[str, ...] = ()
    noise_dir: Path | None = None
    skip_bad: bool = False
    smoke: bool = False
    real_dirs: tuple[Path, ...] = ()
    targets: Path | None = None  # regression: the file,value CSV (data/regression.py)
    jobs: int | None = None  # worker processes of the feature extraction (None: every core)
    words: tuple[str, ...] = ()  # a vocabulary from text (data/words.py)


def synth_clips(build: Path, config: dict, smoke: bool) -> list[Clip]:
    """The synthetic dataset (generated into ``build/synth`` once, then cached); smoke-sized with ``smoke``."""
    synth = config["synth"]
    speakers = SMOKE_SPEAKERS if smoke else synth["speakers"]
    flite = min(synth["flite_speakers"], SMOKE_FLITE_SPEAKERS) if smoke else synth["flite_speakers"]
    takes = 1 if smoke else synth["takes_per_word"]
    labels = list(config["dataset"]["labels"])
    return load_folder(generate(build / "synth", labels, speakers, takes, config["dataset"]["seed"], flite), labels)


def real_sources(req: DataRequest, labels: list[str]) -> list[RealSource]:
    """The real-speech folders of a ``real`` / ``sample`` dataset (``--real`` folders, then the shipped sample)."""
    parts = req.dataset.split("+")
    roots = list(req.real_dirs) if "real" in parts else []
    if "real" in parts and not roots:
        raise PipelineError(f"--dataset {req.dataset} needs --real <folder> ... (make: REAL=\"<folder> ...\")")
    if "folder" in parts and req.words and req.data_dir:  # a vocabulary's recordings join like --real folders
        roots.append(req.data_dir)
    if "sample" in parts and not req.words:  # a vocabulary uses the sample's noise only (data/words.py)
        roots.append(SAMPLE_DIR)
    return load_real(roots, labels)


def build_clips(req: DataRequest, config: dict) -> tuple[list[Clip], list[str], dict | None]:
    """The clips of the requested dataset, its labels and an optional published split."""
    ds = config["dataset"]
    labels: list[str] = list(ds["labels"])
    clips: list[Clip] = []
    official = None
    parts = req.dataset.split("+")
    if "synth" in parts:
        clips += synth_clips(req.build, config, req.smoke)
    if "fsdd" in parts:
        clips += load_fsdd(req.fsdd_dir)
    if "folder" in parts:
        if req.data_dir is None:
            raise PipelineError("--dataset folder needs --data-dir <root>/<label>/*.wav (make: DATA_DIR=...)")
        folder = load_folder(req.data_dir, None if req.dataset == "folder" else labels)
        if req.dataset == "folder":
            labels = sorted({c.label for c in folder})
        clips += folder
    if "audiomnist" in parts:
        if req.data_dir is None:
            raise PipelineError("--dataset audiomnist needs --data-dir <AudioMNIST folder> (from make data)")
        clips += load_audiomnist(req.data_dir)
    if req.dataset == "speech_commands":
        if req.data_dir is None:
            raise PipelineError("--dataset speech_commands needs --data-dir <speech_commands_v0.02 folder>")
        clips, official = load_speech_commands(req.data_dir, labels)
    return clips, labels, official


def split_real(sources: list[RealSource], combined: bool, ds: dict) -> dict[str, list[Clip]]:
    """Splits of the real clips: published lists where a source has them, else the speaker hash; in a combined
    dataset a source with fewer than ``SPLIT_MIN_SPEAKERS`` speakers trains whole."""
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for src in sources:
        if combined and len({c.source for c in src.clips}) < SPLIT_MIN_SPEAKERS:
            out["train"] += src.clips
            continue
        for split, clips in assign_splits(src.clips, ds["val_percent"], ds["test_percent"], src.official).items():
            out[split] += clips
    return out


def real_summary(sources: list[RealSource]) -> list[dict]:
    """``dataset.json``'s record of the real folders: layout, clips, speakers, background noise."""
    return [{"root": str(src.root), "layout": src.layout, "clips": len(src.clips),
             "speakers": len({c.source for c in src.clips}),
             "noise_dir": str(src.noise_dir) if src.noise_dir else None} for src in sources]


def add_nothing(req: DataRequest, config: dict, clips: list[Clip], labels: list[str]) -> tuple[list[Clip], list[str]]:
    """The clips and labels with ``[dataset] extra_classes`` added (:mod:`data.nothing`): about one digit's worth
    of ``_silence_`` clips, and the ``unknown_words`` spoken by the synthetic speakers."""
    ds, synth = config["dataset"], config["synth"]
    extra = list(ds["extra_classes"])
    check_extra_classes(extra)
    per_label = max(1, len(clips) // max(1, len(labels)))
    out = list(clips)
    if SILENCE in extra:
        n_sources = max(1, per_label // NOTHING_CLIPS_PER_SOURCE)
        out += silence_clips(req.build / "nothing", [f"synth-noise-{k}" for k in range(n_sources)],
                             NOTHING_CLIPS_PER_SOURCE, FeatureParams.from_config(config), req.noise_dir or
                             NOISE_DIR_DEFAULT, ds["seed"], req.build / "cache" / "features")
    if UNKNOWN in extra:
        speakers = SMOKE_SPEAKERS if req.smoke else synth["speakers"]
        flite = min(synth["flite_speakers"], SMOKE_FLITE_SPEAKERS) if req.smoke else synth["flite_speakers"]
        words = list(ds["unknown_words"])[:SMOKE_UNKNOWN_WORDS] if req.smoke else list(ds["unknown_words"])
        out += unknown_clips(req.build / "nothing", words, speakers, flite, ds["seed"])
    return out, labels + extra


def prepare(req: DataRequest) -> dict:
    """Run the data stage; returns the summary written to ``build/features/dataset.json``.

    ``build/features`` is replaced only when the whole stage succeeds (:func:`data.artifacts.staged_outputs`).
    """
    config = load_config()
    if req.dataset not in DATASETS:
        raise PipelineError(f"unknown dataset {req.dataset!r}; choose one of {', '.join(DATASETS)}")
    params = FeatureParams.from_config(config)
    if req.targets is not None or config["model"]["task"] == "regression":  # data/regression.py
        if req.targets is None:
            raise PipelineError("[model] task = \"regression\" needs --targets <file,value CSV> (make: TARGETS=...)")
        return prepare_regression(req, config, params)
    ds = config["dataset"]
    words_noise = None
    if req.words:
        if not {"synth"} <= set(req.dataset.split("+")) <= {"synth", "sample", "real", "folder"}:
            raise PipelineError(f"WORDS= trains on synthesized speech: DATASET must be synth, sample+synth (the "
                                f"same for words), real+synth or folder+synth, not {req.dataset}")
        clips, labels, words_noise = words_clips(list(req.words), config, req.build, req.smoke)
        official = None
    else:
        clips, labels, official = build_clips(req, config)
        # A folder of one's own labels (voices, long recordings, any words) gets no digit-set nothing classes.
        if ds["extra_classes"] and "folder" not in req.dataset.split("+"):
            clips, labels = add_nothing(req, config, clips, labels)
    splits = assign_splits(clips, ds["val_percent"], ds["test_percent"], official)
    if "+" in req.dataset:  # combined: every real speaker trains (see the module docstring)
        real = [c for s in SPLITS for c in splits[s] if not is_synthetic(c.source)]
        splits = {s: [c for c in splits[s] if is_synthetic(c.source)] for s in SPLITS}
        splits["train"] += real
    parts = set(req.dataset.split("+"))
    sources = real_sources(req, labels) if {"real", "sample"} & parts or (req.words and "folder" in parts) else []
    for split, real_clips in split_real(sources, "+" in req.dataset, ds).items():
        splits[split] += real_clips
    clips = clips + [c for src in sources for c in src.clips]
    # A source's _background_noise_ folder is real noise for the augmentation when no --noise-dir is given.
    noise_dir = req.noise_dir or next((src.noise_dir for src in sources if src.noise_dir), words_noise)
    holdout = set(req.holdout)
    if holdout:
        unknown = holdout - {c.source for c in clips}
        if unknown:
            raise PipelineError(f"--holdout: no clips of sources {sorted(unknown)}")
        everything = [c for s in SPLITS for c in splits[s]]
        splits = {"train": [c for c in splits["train"] + splits["test"] if c.source not in holdout],
                  "val": [c for c in splits["val"] if c.source not in holdout],
                  "test": [c for c in everything if c.source in holdout]}
    leaked = ({c.source for c in splits["train"]} & {c.source for s in ("val", "test") for c in splits[s]})
    if leaked:
        raise PipelineError(f"split leakage: sources {sorted(leaked)[:5]} are in train and val/test")
    windows = WindowSettings.from_config(config)
    windowed = windows.applies(clips)  # long recordings: overlapping windows (data/windows.py)
    check_splits(splits, labels, req.dataset, unit="recordings" if windowed else "clips")
    if windowed:
        return prepare_windowed(req, config, splits, labels, params, windows)
    summary: dict = {"dataset": req.dataset, "labels": labels, "features": params.to_dict(), "splits": {},
                     "skipped": []}
    if sources:
        summary["real_sources"] = real_summary(sources)
        summary["noise_dir"] = str(noise_dir) if noise_dir else None
    final = req.build / "features"
    work = {"computed": 0, "cached": 0}
    with staged_outputs(req.build) as stage:
        out = stage / "features"
        out.mkdir()
        kept: dict[str, list[Clip]] = {}
        for split in SPLITS:
            kept[split] = write_features(out / f"{split}.npz", splits[split], labels, params, req, summary, work)
            summary["splits"][split] = {"clips": len(kept[split]),
                                        "sources": len({c.source for c in kept[split]}),
                                        "real_sources": sorted({c.source for c in kept[split]
                                                                if not is_synthetic(c.source)}),
                                        "per_label": {lab: sum(c.label == lab for c in kept[split])
                                                      for lab in labels}}
        # Before the (longer) augmentation, and before anything replaces the features of the model built so far.
        check_splits(kept, labels, req.dataset, summary["skipped"])
        aug = AudioAugmentParams.from_config(config, noise_dir)
        summary["augmented_copies"] = write_augmented(out / "train_aug.npz", kept["train"], labels, params, aug,
                                                      req, work)
        (out / "dataset.json").write_text(json.dumps(summary, indent=1))
    counts = ", ".join(f"{s} {summary['splits'][s]['clips']}" for s in SPLITS)
    print(f"features: {counts} clips, {summary['augmented_copies']} augmented copies -> {final} ({work['computed']} "
          f"computed, {work['cached']} from the cache {req.build / 'cache'})" +
          (f"; {len(summary['skipped'])} bad files skipped, listed in {final / 'dataset.json'}"
           if summary["skipped"] else ""))
    return summary


def write_features(path: Path, clips: list[Clip], labels: list[str], params: FeatureParams, req: DataRequest,
                   summary: dict, work: dict[str, int]) -> list[Clip]:
    """Features of one split into ``path`` as they are computed (:class:`data.datasets.SplitWriter`); bad files
    skipped with ``req.skip_bad`` go to ``summary["skipped"]``. Returns the clips written."""
    writer = SplitWriter(path, params.shape)
    kept = []
    results = clip_features(clips, params, req.build / "cache" / "features", req.skip_bad, f"features {path.stem}",
                            req.jobs)
    for clip, result in zip(clips, results):
        if result.x is None:
            summary["skipped"].append(result.skipped)
            continue
        writer.add(result.x)
        kept.append(clip)
        work["cached" if result.cached else "computed"] += 1
    writer.close(split_rows(kept, labels))
    return kept


def write_augmented(path: Path, clips: list[Clip], labels: list[str], params: FeatureParams, aug: AudioAugmentParams,
                    req: DataRequest, work: dict[str, int]) -> int:
    """The audio-augmented copies of the training clips into ``path`` as they are computed; returns their number."""
    writer = SplitWriter(path, params.shape)
    origins = []
    for clip, (copies, computed) in zip(clips, augmented_copies(clips, params, aug, req.build / "cache" / "augmented",
                                                                 jobs=req.jobs)):
        for x in copies:
            writer.add(x)
            origins.append(clip)
        work["computed"] += computed
        work["cached"] += len(copies) - computed
    writer.close(split_rows(origins, labels))
    return len(origins)
