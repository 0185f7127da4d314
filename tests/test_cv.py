"""Leave-one-speaker-out folds never leak the held-out speaker; the targets can fail; the collapse check fires;
``experiments.cv --smoke`` runs end to end on FSDD."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_stage
from data.config import PipelineError, load_config
from data.datasets import Clip
from train.collapse import check_collapse
from experiments.cv import _arrays, make_fold, summarize, summarize_curve, top_confusions

LABELS = ["zero", "one"]


def _split(sources: list[str], tag: str) -> dict[str, np.ndarray]:
    clips = [Clip(Path(f"/{tag}/{s}/{i}_{lab}.wav"), lab, s) for s in sources for i, lab in enumerate(LABELS)]
    return _arrays(np.zeros((len(clips), 4, 3), np.float32), clips, LABELS)


@pytest.fixture
def pool() -> dict[str, dict]:
    real = _split(["george", "jackson", "lucas"], "real")
    return {"synth_train": _split(["synth-a", "synth-b"], "s"), "synth_val": _split(["synth-c"], "s"),
            "real": real, "synth_train_aug": _split(["synth-a"], "s"), "real_aug": real}


@pytest.mark.parametrize("held", ["george", "lucas"])
def test_fold_holds_out_exactly_one_speaker(pool: dict, held: str) -> None:
    train, train_aug, val, test = make_fold(pool, [held])
    assert set(test["sources"].tolist()) == {held}
    assert held not in set(train["sources"].tolist()) | set(train_aug["sources"].tolist()) | set(
        val["sources"].tolist())
    assert set(train_aug["ids"].tolist()) <= set(train["ids"].tolist())
    assert {"synth-a", "synth-b"} <= set(train["sources"].tolist())
    assert len(set(train["sources"].tolist()) - {"synth-a", "synth-b"}) == 2  # the other real speakers train


def test_fold_trains_only_the_given_real_speakers(pool: dict) -> None:
    train, train_aug, _, test = make_fold(pool, ["george"], ["lucas"])
    real = {s for s in train["sources"].tolist() + train_aug["sources"].tolist() if not s.startswith("synth-")}
    assert real == {"lucas"} and set(test["sources"].tolist()) == {"george"}
    with pytest.raises(PipelineError, match="leaks held-out speakers \\['george'\\]"):
        make_fold(pool, ["george"], ["george", "lucas"])


def test_synthetic_only_fold_has_no_real_training_clip(pool: dict) -> None:
    train, train_aug, _, test = make_fold(pool, ["george", "jackson", "lucas"])
    assert all(s.startswith("synth-") for s in train["sources"].tolist() + train_aug["sources"].tolist())
    assert len(test["y"]) == len(pool["real"]["y"])


def test_fold_rejects_unknown_speaker_and_foreign_augmented_clips(pool: dict) -> None:
    with pytest.raises(PipelineError, match="no real clips"):
        make_fold(pool, ["nobody"])
    pool["synth_train_aug"] = _split(["synth-c"], "s")  # copies of validation clips must never train
    with pytest.raises(PipelineError, match="leaks"):
        make_fold(pool, ["george"])


def _fold(seed: int, speaker: str, acc: float, agree: float = 1.0, confusion: list | None = None) -> dict:
    return {"seed": seed, "holdout": speaker, "model_bytes": 20000, "arena_bytes": 10000,
            "float": {"accuracy": acc}, "int8": {"accuracy": acc},
            "tflm": {"accuracy": acc, "confusion": confusion or [[10, 0], [0, 10]]},
            "agreement": {"float_tflm": agree}}


def test_summary_checks_pass_and_fail() -> None:
    limits = load_config()["cv"]
    good = [_fold(s, sp, 0.99) for s in (1, 2) for sp in ("a", "b")]
    assert summarize(good, [_fold(1, "all", 0.5)], limits, LABELS)["passed"]
    weak_fold = good[:-1] + [_fold(2, "b", 0.90)]
    s = summarize(weak_fold, [_fold(1, "all", 0.5)], limits, LABELS)
    assert not s["passed"] and not s["checks"]["min_fold_tflm_accuracy"]
    assert s["tflm_per_speaker"]["b"]["min"] == pytest.approx(0.90)
    assert not summarize([_fold(1, "a", 0.99, agree=0.9)], [_fold(1, "all", 0.5)], limits, LABELS)["checks"][
        "agreement_float_tflm"]


def test_top_confusions_sum_seeds_per_speaker() -> None:
    labels = ["zero", "one", "two"]
    folds = [_fold(1, "a", 0.8, confusion=[[8, 2, 0], [0, 9, 1], [0, 3, 7]]),
             _fold(2, "a", 0.8, confusion=[[9, 1, 0], [0, 10, 0], [0, 4, 6]]),
             _fold(1, "b", 1.0, confusion=[[10, 0, 0], [0, 10, 0], [0, 0, 10]])]
    top = top_confusions(folds, "tflm", labels, k=2)
    assert top == {"a": [["two", "one", 7], ["zero", "one", 3]], "b": []}


def _entry(k: int, speaker: str, acc: float) -> dict:
    return {"real_speakers": k, "seed": 1, "holdout": speaker, "train_speakers": [], "accuracy": acc}


def test_curve_summary_averages_subsets_and_extrapolates_the_error() -> None:
    # Mean errors 0.2, 0.1, 0.05: each speaker halves the error, 0.03 is reached after log(0.15)/log(0.5) = 2.7.
    entries = [_entry(0, "a", 0.8), _entry(0, "b", 0.8), _entry(1, "a", 0.85), _entry(1, "a", 0.95),
               _entry(1, "b", 0.9), _entry(2, "a", 0.95), _entry(2, "b", 0.95)]
    s = summarize_curve(entries, 0.97)
    assert [p["real_speakers"] for p in s["points"]] == [0, 1, 2]
    assert s["points"][1]["per_speaker"] == {"a": pytest.approx(0.9), "b": pytest.approx(0.9)}
    assert s["points"][1]["worst"] == pytest.approx(0.85) and s["points"][1]["tests"] == 3
    assert s["error_ratio"] == pytest.approx(0.5) and s["speakers_for_target"] == 3
    flat = summarize_curve([_entry(0, "a", 0.8), _entry(1, "a", 0.7)], 0.97)
    assert flat["error_ratio"] > 1 and flat["speakers_for_target"] is None


def test_collapse_check_fires_on_constant_predictions_only() -> None:
    rng = np.random.default_rng(0)
    diverse = rng.dirichlet(np.ones(10), 200)
    balanced = np.arange(200) % 10
    assert check_collapse(diverse, "diverse", balanced)["entropy"] > 0.9
    one_class = np.tile(np.eye(10)[3], (200, 1)) * 0.9 + 0.01
    with pytest.raises(PipelineError, match="collapsed"):
        check_collapse(one_class, "one class", balanced)
    near_constant = np.full((200, 10), 0.1) + rng.normal(0, 1e-6, (200, 10))
    with pytest.raises(PipelineError, match="collapsed"):
        check_collapse(near_constant, "constant", balanced)


def test_cv_smoke_end_to_end(smoke_build: Path, fsdd_dir: Path) -> None:
    # Reuses the smoke build's synthetic set and feature cache; one fold keeps the test short.
    run_stage("experiments.cv", "--smoke", "--fsdd-dir", str(fsdd_dir), "--speakers", "lucas", "--build", str(smoke_build))
    report = json.loads((smoke_build / "cv.json").read_text())
    speakers = report["speakers"]
    assert len(speakers) == 4
    assert [f["holdout"] for f in report["folds"]] == ["lucas"]
    assert report["synthetic_only"][0]["holdout"] == speakers
    assert set(report["synthetic_only"][0]["tflm_per_speaker"]) == set(speakers)
    assert all(f["train_clips"]["real"] > 0 for f in report["folds"])
    assert "| seed | held-out speaker |" in (smoke_build / "cv.md").read_text()
    assert list(report["summary"]["tflm_top_confusions"]) == ["lucas"]
    assert np.sum(report["folds"][0]["tflm"]["confusion"]) == report["folds"][0]["n_clips"]


def test_cv_float_only_screening_with_an_override(smoke_build: Path, fsdd_dir: Path) -> None:
    run_stage("experiments.cv", "--smoke", "--fsdd-dir", str(fsdd_dir), "--speakers", "george", "--build", str(smoke_build),
              "--float-only", "--set", "augment.mixup_alpha=0.0")
    report = json.loads((smoke_build / "cv_float.json").read_text())
    assert report["overrides"] == ["augment.mixup_alpha=0.0"]
    assert [f["holdout"] for f in report["folds"]] == ["george"]
    fold = report["folds"][0]
    assert 0.0 <= fold["float"]["accuracy"] <= 1.0 and "tflm" not in fold
    assert report["summary"]["float"]["mean"] == fold["float"]["accuracy"]
    assert "synthetic_only" not in report and not (smoke_build / "cv" / "george-s1234").exists()
    assert list(report["summary"]["float_top_confusions"]) == ["george"]
    assert np.sum(fold["float"]["confusion"]) == fold["n_clips"]
    md = (smoke_build / "cv_float.md").read_text()
    assert "augment.mixup_alpha=0.0" in md and "| george |" in md.split("Most frequent errors")[1]


def test_cv_curve_trains_every_subset_of_the_other_speakers(smoke_build: Path, fsdd_dir: Path) -> None:
    run_stage("experiments.cv", "--smoke", "--fsdd-dir", str(fsdd_dir), "--speakers", "lucas", "--build", str(smoke_build),
              "--float-only", "--curve")
    report = json.loads((smoke_build / "cv_curve.json").read_text())
    others = set(report["speakers"]) - {"lucas"}
    subsets = [tuple(e["train_speakers"]) for e in report["entries"]]
    assert len(subsets) == 2 ** len(others) == len(set(subsets))  # the empty set (synthetic only) included
    assert all(set(t) <= others and e["holdout"] == "lucas" for t, e in zip(subsets, report["entries"]))
    points = report["summary"]["points"]
    assert [p["tests"] for p in points] == [1, 3, 3, 1]
    assert "| real training speakers | lucas |" in (smoke_build / "cv_curve.md").read_text()
