"""Speaker-independent folds never leak a held-out speaker; the targets can fail; the collapse check fires;
``experiments.cv --smoke`` runs end to end on FSDD (one folder: leave-one-speaker-out)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_stage
from data.config import PipelineError, load_config
from data.datasets import Clip
from experiments.cv.folds import KIND_FSDD, make_fold, split_arrays
from experiments.cv.report import extrapolate, summarize, summarize_curve, top_confusions
from train.collapse import check_collapse

LABELS = ["zero", "one"]
SOURCES = [{"name": "fsdd", "kind": KIND_FSDD, "speakers": ["a", "b"]}]


def _split(sources: list[str], tag: str) -> dict[str, np.ndarray]:
    clips = [Clip(Path(f"/{tag}/{s}/{i}_{lab}.wav"), lab, s) for s in sources for i, lab in enumerate(LABELS)]
    return split_arrays(np.zeros((len(clips), 4, 3), np.float32), clips, LABELS)


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
    scores = {"accuracy": acc, "clips": 20, "confusion": confusion or [[10, 0], [0, 10]]}
    return {"seed": seed, "fold": 0, "holdout": [speaker], "model_bytes": 20000, "arena_bytes": 10000,
            "float": {"accuracy": acc}, "int8": {"accuracy": acc}, "tflm": {"accuracy": acc},
            "agreement": {"float_tflm": agree}, "tflm_per_source": {"fsdd": scores},
            "tflm_per_speaker": {speaker: scores}}


def test_summary_checks_pass_and_fail() -> None:
    limits = load_config()["cv"]
    good = [_fold(s, sp, 0.99) for s in (1, 2) for sp in ("a", "b")]
    assert summarize(good, [_fold(1, "all", 0.5)], SOURCES, limits, "tflm", LABELS)["passed"]
    weak_fold = good[:-1] + [_fold(2, "b", 0.90)]
    s = summarize(weak_fold, [_fold(1, "all", 0.5)], SOURCES, limits, "tflm", LABELS)
    assert not s["passed"] and not s["checks"]["fsdd: worst fold"]
    assert s["per_speaker"]["b"]["min"] == pytest.approx(0.90)
    assert not summarize([_fold(1, "a", 0.99, agree=0.9)], [_fold(1, "all", 0.5)], SOURCES, limits, "tflm",
                         LABELS)["checks"]["agreement_float_tflm"]


def test_top_confusions_sum_seeds_per_speaker() -> None:
    labels = ["zero", "one", "two"]
    folds = [_fold(1, "a", 0.8, confusion=[[8, 2, 0], [0, 9, 1], [0, 3, 7]]),
             _fold(2, "a", 0.8, confusion=[[9, 1, 0], [0, 10, 0], [0, 4, 6]]),
             _fold(1, "b", 1.0, confusion=[[10, 0, 0], [0, 10, 0], [0, 0, 10]])]
    top = top_confusions(folds, "tflm", labels, k=2)
    assert top == {"a": [["two", "one", 7], ["zero", "one", 3]], "b": []}


def test_curve_points_average_folds_and_seeds_per_source() -> None:
    entries = [{"point": 0, "real_speakers": 0, "per_source": {"fsdd": 0.8}},
               {"point": 0, "real_speakers": 0, "per_source": {"fsdd": 0.6, "crowd": 0.5}},
               {"point": 2, "real_speakers": 2, "per_source": {"fsdd": 0.9}},
               {"point": "all", "real_speakers": 3, "per_source": {"fsdd": 0.95}},
               {"point": "all", "real_speakers": 5, "per_source": {"fsdd": 0.85}}]
    sources = SOURCES + [{"name": "crowd", "kind": "other", "speakers": ["c"]}]
    s = summarize_curve(entries, sources, load_config()["cv"])
    assert [(p["point"], p["real_speakers"], p["tests"]) for p in s["points"]] == [(0, 0, 2), (2, 2, 1),
                                                                                   ("all", [3, 5], 2)]
    assert s["points"][0]["per_source"] == {"fsdd": pytest.approx(0.7), "crowd": 0.5}
    assert s["points"][2]["per_source"] == {"fsdd": pytest.approx(0.9)}
    assert set(s["extrapolation"]) == {"fsdd"}  # a source without a target is not extrapolated


def test_curve_extrapolates_the_error() -> None:
    # Mean errors 0.2, 0.1, 0.05: each speaker halves the error, 0.03 is reached after log(0.15)/log(0.5) = 2.7.
    s = extrapolate([(0, 0.8), (1, 0.9), (2, 0.95)], 0.97)
    assert s["error_ratio"] == pytest.approx(0.5) and s["voices_for_target"] == 3
    flat = extrapolate([(0, 0.8), (1, 0.7)], 0.97)
    assert flat["error_ratio"] > 1 and flat["voices_for_target"] is None


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


@pytest.mark.slow
def test_cv_smoke_end_to_end(smoke_build: Path, fsdd_dir: Path) -> None:
    # Reuses the smoke build's synthetic set and feature cache; one fold keeps the test short.
    run_stage("experiments.cv", "--smoke", "--fsdd-dir", str(fsdd_dir), "--speakers", "lucas", "--build", str(smoke_build))
    report = json.loads((smoke_build / "cv.json").read_text())
    speakers = report["speakers"]
    assert len(speakers) == 4
    assert [f["holdout"] for f in report["folds"]] == [["lucas"]]
    assert report["synthetic_only"][0]["holdout"] == speakers
    assert set(report["synthetic_only"][0]["tflm_per_speaker"]) == set(speakers)
    assert all(f["train_clips"]["real"] > 0 for f in report["folds"])
    assert "| seed | held-out speaker |" in (smoke_build / "cv.md").read_text()
    assert list(report["summary"]["tflm_top_confusions"]) == ["lucas"]
    assert np.sum(report["folds"][0]["tflm"]["confusion"]) == report["folds"][0]["n_clips"]


@pytest.mark.slow
def test_cv_float_only_screening_with_an_override(smoke_build: Path, fsdd_dir: Path) -> None:
    models = sorted((smoke_build / "cv").rglob("*")) if (smoke_build / "cv").exists() else []
    run_stage("experiments.cv", "--smoke", "--fsdd-dir", str(fsdd_dir), "--speakers", "george", "--build", str(smoke_build),
              "--float-only", "--set", "augment.mixup_alpha=0.0")
    report = json.loads((smoke_build / "cv_float.json").read_text())
    assert report["overrides"] == ["augment.mixup_alpha=0.0"]
    assert [f["holdout"] for f in report["folds"]] == [["george"]]
    fold = report["folds"][0]
    assert 0.0 <= fold["float"]["accuracy"] <= 1.0 and "tflm" not in fold
    assert report["summary"]["float"]["mean"] == fold["float"]["accuracy"]
    assert "synthetic_only" not in report and sorted((smoke_build / "cv").rglob("*")) == models  # no model written
    assert list(report["summary"]["float_top_confusions"]) == ["george"]
    assert np.sum(fold["float"]["confusion"]) == fold["n_clips"]
    md = (smoke_build / "cv_float.md").read_text()
    assert "augment.mixup_alpha=0.0" in md and "| george |" in md.split("Most frequent errors")[1]


@pytest.mark.slow
def test_cv_curve_retrains_the_fold_on_nested_subsets_of_the_other_speakers(smoke_build: Path,
                                                                           fsdd_dir: Path) -> None:
    run_stage("experiments.cv", "--smoke", "--fsdd-dir", str(fsdd_dir), "--speakers", "lucas", "--build", str(smoke_build),
              "--float-only", "--curve")
    report = json.loads((smoke_build / "cv_curve.json").read_text())
    others = len(report["speakers"]) - 1
    assert report["complete"] and all(set(e["per_speaker"]) == {"lucas"} for e in report["entries"])
    # 0 voices (the synthetic-only model), 2, then all of the other three FSDD speakers
    assert [(p["point"], p["real_speakers"], p["tests"]) for p in report["points"]] == [(0, 0, 1), (2, 2, 1),
                                                                                         ("all", others, 1)]
    assert "| real training voices (per fold) | fsdd | models |" in (smoke_build / "cv_curve.md").read_text()
