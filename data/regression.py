"""Regression datasets (``[model] task = "regression"``): WAV clips with a numeric target each, from a CSV
``file,value`` (``make ... TARGETS=<csv>``; files relative to ``DATA_DIR``, else to the CSV's folder).

Splits are by source hash as for classification (:func:`data.datasets.source_of`: a file is its own source unless
its name says otherwise). The split files hold the targets as ``y`` (float32) and the one output name ``value`` as
``labels``. No audio-augmented copies: noise, gain and speed can change the very quantity a target measures
(loudness, pitch, tempo).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import staged_outputs
from data.config import PipelineError
from data.datasets import SPLITS, Clip, assign_splits, extract_clips, source_of
from data.features import FeatureParams

# The model's one output, as the label list of a regression model (HELLO's labels=, model_meta.json's labels).
OUTPUT_NAME = "value"
HEADER = ["file", "value"]


def load_targets(csv_path: Path, data_dir: Path | None = None) -> tuple[list[Clip], np.ndarray]:
    """Clips and targets of a ``file,value`` CSV (header line required; one line naming the CSV, the line and the
    reason for anything else).

    Returns
    -------
    clips : list of Clip
        Label ``value`` each.
    targets : np.ndarray, shape (len(clips),), float32
    """
    csv_path = Path(csv_path)
    root = Path(data_dir) if data_dir is not None else csv_path.parent
    try:
        with open(csv_path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise PipelineError(f"{csv_path}: cannot read the targets ({getattr(e, 'strerror', None) or e})") from None
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise PipelineError(f"{csv_path}: the first line must be the header {','.join(HEADER)}")
    clips, targets, seen = [], [], set()
    for number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise PipelineError(f"{csv_path}:{number}: expected 2 fields (file,value), got {len(row)}")
        name, text = row[0].strip(), row[1].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise PipelineError(f"{csv_path}:{number}: value {text!r} is not a finite number")
        if name in seen:
            raise PipelineError(f"{csv_path}:{number}: {name} is listed twice")
        seen.add(name)
        path = root / name
        clips.append(Clip(path, OUTPUT_NAME, source_of(path)))
        targets.append(value)
    if len(clips) < 2:
        raise PipelineError(f"{csv_path}: a regression dataset needs at least two clips, found {len(clips)}")
    return clips, np.array(targets, np.float32)


def save_targets(path: Path, x: np.ndarray, clips: list[Clip], targets: np.ndarray) -> None:
    """One regression split as ``.npz``: ``x``, ``y`` (float32 targets), ``ids``, ``sources``, ``labels``."""
    np.savez(path, x=x.astype(np.float32), y=targets.astype(np.float32),
             ids=np.array([str(c.path) for c in clips], dtype=str),
             sources=np.array([c.source for c in clips], dtype=str), labels=np.array([OUTPUT_NAME], dtype=str))


def prepare_regression(req: Any, config: dict, params: FeatureParams) -> dict:
    """The data stage of a regression dataset (called by :func:`data.prepare.prepare` with ``req.targets``):
    ``train.npz``, ``val.npz``, ``test.npz`` and ``dataset.json`` (``task``, target statistics per split)."""
    if config["model"]["task"] != "regression":
        raise PipelineError(f"--targets {req.targets}: targets are for [model] task = \"regression\" (config.toml "
                            f"says {config['model']['task']!r})")
    clips, targets = load_targets(req.targets, req.data_dir)
    value = {str(c.path): t for c, t in zip(clips, targets)}
    ds = config["dataset"]
    splits = assign_splits(clips, ds["val_percent"], ds["test_percent"])
    for split in SPLITS:
        if not splits[split]:
            raise PipelineError(f"{req.targets}: the {split} split is empty: too few sources for a source-wise split")
    summary: dict = {"dataset": f"regression:{Path(req.targets).name}", "task": "regression",
                     "labels": [OUTPUT_NAME], "features": params.to_dict(), "splits": {}, "skipped": []}
    final = req.build / "features"
    with staged_outputs(req.build) as stage:
        out = stage / "features"
        out.mkdir()
        for split in SPLITS:
            x, ok, skipped = extract_clips(splits[split], params, req.build / "cache" / "features", req.skip_bad,
                                           desc=f"features {split}")
            summary["skipped"] += skipped
            y = np.array([value[str(c.path)] for c in ok], np.float32)
            save_targets(out / f"{split}.npz", x, ok, y)
            summary["splits"][split] = {"clips": len(ok), "sources": len({c.source for c in ok}),
                                        "target": {"mean": float(y.mean()) if len(y) else None,
                                                   "std": float(y.std()) if len(y) else None}}
        (out / "dataset.json").write_text(json.dumps(summary, indent=1))
    counts = ", ".join(f"{s} {summary['splits'][s]['clips']}" for s in SPLITS)
    print(f"features (regression): {counts} clips -> {final}")
    return summary
