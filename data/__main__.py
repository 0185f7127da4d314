"""Entry point of the data stage: build a dataset, split it by speaker, write MFCC features to ``build/features/``.

    python -m data --dataset synth|fsdd|fsdd+synth|folder|folder+synth|speech_commands [--data-dir D] [--fsdd-dir D]
                   [--holdout SPEAKER ...] [--noise-dir D]

Splits are by speaker (source) hash. In a combined dataset (``fsdd+synth``, ``folder+synth``) every real speaker
goes to training unless ``--holdout`` names it: a corpus of a handful of real speakers (FSDD has four) cannot be
split by hash sensibly, the real speakers are the most valuable training data, and the synthetic speakers still
give validation/test splits. Real-speaker accuracy comes from ``make cv`` (leave-one-speaker-out).

Writes ``train.npz``, ``val.npz``, ``test.npz`` and ``train_aug.npz`` (audio-augmented copies of the training
clips only, ``config.toml [augment_audio]``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from data.augment_audio import AudioAugmentParams, augmented_features
from data.config import PipelineError, load_config, run_main
from data.datasets import (SPLITS, Clip, assign_splits, extract_clips, load_fsdd, load_folder, load_speech_commands,
                           save_split)
from data.features import FeatureParams
from data.synth import generate, is_synthetic

DATASETS = ("synth", "fsdd", "fsdd+synth", "folder", "folder+synth", "speech_commands")
# Smoke runs (tests) synthesize this many speakers with one take each: enough for every split to hold all classes.
SMOKE_SPEAKERS = 24
# ... plus this many Flite speakers (when the configuration has any), so smoke runs exercise both engines.
SMOKE_FLITE_SPEAKERS = 6


def synth_clips(build: Path, config: dict, smoke: bool) -> list[Clip]:
    """The synthetic dataset (generated into ``build/synth`` once, then cached); smoke-sized with ``smoke``."""
    synth = config["synth"]
    speakers = SMOKE_SPEAKERS if smoke else synth["speakers"]
    flite = min(synth["flite_speakers"], SMOKE_FLITE_SPEAKERS) if smoke else synth["flite_speakers"]
    takes = 1 if smoke else synth["takes_per_word"]
    labels = list(config["dataset"]["labels"])
    return load_folder(generate(build / "synth", labels, speakers, takes, config["dataset"]["seed"], flite), labels)


def build_clips(args: argparse.Namespace, config: dict) -> tuple[list[Clip], list[str], dict | None]:
    """The clips of the requested dataset, its labels and an optional published split."""
    ds = config["dataset"]
    labels: list[str] = list(ds["labels"])
    clips: list[Clip] = []
    official = None
    parts = args.dataset.split("+")
    if "synth" in parts:
        clips += synth_clips(args.build, config, args.smoke)
    if "fsdd" in parts:
        clips += load_fsdd(args.fsdd_dir)
    if "folder" in parts:
        if args.data_dir is None:
            raise PipelineError("--dataset folder needs --data-dir <root>/<label>/*.wav (make: DATA_DIR=...)")
        folder = load_folder(args.data_dir, None if args.dataset == "folder" else labels)
        if args.dataset == "folder":
            labels = sorted({c.label for c in folder})
        clips += folder
    if args.dataset == "speech_commands":
        if args.data_dir is None:
            raise PipelineError("--dataset speech_commands needs --data-dir <speech_commands_v0.02 folder>")
        clips, official = load_speech_commands(args.data_dir, labels)
    return clips, labels, official


def prepare(args: argparse.Namespace) -> dict:
    """Run the data stage; returns the summary written to ``build/features/dataset.json``."""
    config = load_config()
    if args.dataset not in DATASETS:
        raise PipelineError(f"unknown dataset {args.dataset!r}; choose one of {', '.join(DATASETS)}")
    params = FeatureParams.from_config(config)
    clips, labels, official = build_clips(args, config)
    ds = config["dataset"]
    splits = assign_splits(clips, ds["val_percent"], ds["test_percent"], official)
    if "+" in args.dataset:  # combined: every real speaker trains (see the module docstring)
        real = [c for s in SPLITS for c in splits[s] if not is_synthetic(c.source)]
        splits = {s: [c for c in splits[s] if is_synthetic(c.source)] for s in SPLITS}
        splits["train"] += real
    holdout = set(args.holdout or [])
    if holdout:
        unknown = holdout - {c.source for c in clips}
        if unknown:
            raise PipelineError(f"--holdout: no clips of sources {sorted(unknown)}")
        everything = [c for s in SPLITS for c in splits[s]]
        splits = {"train": [c for c in splits["train"] + splits["test"] if c.source not in holdout],
                  "val": [c for c in splits["val"] if c.source not in holdout],
                  "test": [c for c in everything if c.source in holdout]}
    out = args.build / "features"
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"dataset": args.dataset, "labels": labels, "features": params.to_dict(), "splits": {},
                     "skipped": []}
    for split in SPLITS:
        if not splits[split]:
            raise PipelineError(f"the {split} split of dataset {args.dataset!r} is empty: too few speakers/sources "
                                f"for a speaker-wise split (add data, or name test speakers with --holdout)")
    for split in SPLITS:
        x, ok, skipped = extract_clips(splits[split], params, args.build / "cache" / "features", args.skip_bad,
                                       desc=f"features {split}")
        summary["skipped"] += skipped
        save_split(out / f"{split}.npz", x, ok, labels)
        summary["splits"][split] = {"clips": len(ok), "sources": len({c.source for c in ok}),
                                    "real_sources": sorted({c.source for c in ok if not is_synthetic(c.source)}),
                                    "per_label": {lab: sum(c.label == lab for c in ok) for lab in labels}}
        if split == "train":
            aug = AudioAugmentParams.from_config(config, args.noise_dir)
            x_aug, index = augmented_features(ok, params, aug, args.build / "cache" / "augmented")
            save_split(out / "train_aug.npz", x_aug, [ok[i] for i in index], labels)
            summary["augmented_copies"] = len(index)
    leaked = ({c.source for c in splits["train"]} & {c.source for s in ("val", "test") for c in splits[s]})
    if leaked:
        raise PipelineError(f"split leakage: sources {sorted(leaked)[:5]} are in train and val/test")
    (out / "dataset.json").write_text(json.dumps(summary, indent=1))
    counts = ", ".join(f"{s} {summary['splits'][s]['clips']}" for s in SPLITS)
    print(f"features: {counts} clips -> {out}" + (f" ({len(summary['skipped'])} bad files skipped, listed in "
                                                   f"{out / 'dataset.json'})" if summary["skipped"] else ""))
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="synth", help=f"one of {', '.join(DATASETS)}")
    p.add_argument("--data-dir", type=Path, help="root of a <label>/*.wav folder or of Speech Commands v2")
    p.add_argument("--fsdd-dir", type=Path, default=Path("../shared/data/fsdd"), help="Free Spoken Digit Dataset")
    p.add_argument("--holdout", nargs="*", help="sources (speakers) that form the test split")
    p.add_argument("--noise-dir", type=Path, help="folder of background-noise WAVs mixed into training clips")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip bad files (unreadable, links, out-of-bounds headers, silent, not speech) and list them")
    p.add_argument("--smoke", action="store_true", help="tiny dataset for tests")
    p.add_argument("--build", type=Path, default=Path("build"), help="build folder")
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: prepare(parse_args()))
