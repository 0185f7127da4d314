"""Real-speech sources of any layout (``real`` datasets), per-speaker weighting, and ``make cv REAL=...``: layouts are
detected, background noise never becomes a clip, folds never train their held-out speakers, the per-source summary
has the numbers of a known fixture."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_stage
from data.config import PipelineError, load_config
from data.datasets import (LAYOUT_FOLDER, LAYOUT_FSDD, LAYOUT_SPEECH_COMMANDS, Clip, detect_layout, load_real,
                           load_real_source)
from data.prepare import SPLIT_MIN_SPEAKERS, split_real
from experiments.cv.folds import (KIND_FSDD, KIND_OTHER, KIND_SPEECH_COMMANDS, assign_folds, curve_subsets, make_fold,
                                  split_arrays)
from experiments.cv.report import summarize
from test_bad_input import good
from train.augment import MfccAugmenter
from train.fit import clip_weights

LABELS = ["zero", "one", "two"]
OFF = {"time_shift_frames": 0, "gain_std": 0.0, "noise_std": 0.0, "time_masks": 0, "time_mask_frames": 0,
       "coeff_masks": 0, "coeff_mask_width": 0, "mixup_alpha": 0.0}


def fsdd_like(root: Path, speakers: list[str], takes: int = 1) -> Path:
    (root / "recordings").mkdir(parents=True)
    for i, sp in enumerate(speakers):
        for d in range(len(LABELS)):
            for t in range(takes):
                good(root / "recordings" / f"{d}_{sp}_{t}.wav", seed=i + d)
    return root


def commands_like(root: Path, speakers: list[str], labels: list[str] = LABELS, noise: bool = True) -> Path:
    for i, sp in enumerate(speakers):
        for j, lab in enumerate(labels):
            (root / lab).mkdir(parents=True, exist_ok=True)
            good(root / lab / f"{sp}_nohash_0.wav", seed=i + j)
    if noise:
        (root / "_background_noise_").mkdir()
        good(root / "_background_noise_" / "running_tap.wav")
    return root


def test_layouts_are_detected_and_background_noise_is_never_a_clip(tmp_path: Path) -> None:
    fsdd = fsdd_like(tmp_path / "fsdd", ["anna", "bert"])
    crowd = commands_like(tmp_path / "crowd", ["a1b2", "c3d4"])
    listed = commands_like(tmp_path / "listed", ["e5f6", "0a0b"], noise=False)
    (listed / "testing_list.txt").write_text("one/e5f6_nohash_0.wav\n")
    partial = commands_like(tmp_path / "partial", ["felix"], labels=["one"], noise=False)  # one word only
    assert [detect_layout(d) for d in (fsdd, crowd, listed)] == [LAYOUT_FSDD, LAYOUT_FOLDER, LAYOUT_SPEECH_COMMANDS]
    src = load_real_source(crowd, LABELS)
    assert src.noise_dir == crowd / "_background_noise_"
    assert len(src.clips) == 6 and all("_background_noise_" not in str(c.path) for c in src.clips)
    assert {c.source for c in src.clips} == {"a1b2", "c3d4"}
    lst = load_real_source(listed, LABELS)
    assert lst.official[listed / "one" / "e5f6_nohash_0.wav"] == "test" and lst.noise_dir is None
    assert [(c.label, c.source) for c in load_real_source(partial, LABELS).clips] == [("one", "felix")]
    assert {c.source for c in load_real_source(fsdd, ["one"]).clips} == {"anna", "bert"}
    with pytest.raises(PipelineError, match="speaker 'anna' is also in"):
        load_real([fsdd, fsdd_like(tmp_path / "copy", ["anna"])], LABELS)
    with pytest.raises(PipelineError, match="none of the label folders"):
        load_real_source(crowd, ["seven"])


def test_combined_split_trains_small_sources_whole_and_hash_splits_large_ones(tmp_path: Path) -> None:
    small = load_real_source(fsdd_like(tmp_path / "fsdd", ["anna", "bert"]), LABELS)
    many = [f"{i:04x}" for i in range(SPLIT_MIN_SPEAKERS + 20)]
    large = load_real_source(commands_like(tmp_path / "crowd", many, labels=["one"]), LABELS)
    ds = load_config()["dataset"]
    splits = split_real([small, large], True, ds)
    where = {c.source: s for s, clips in splits.items() for c in clips}
    assert where["anna"] == where["bert"] == "train"
    assert {where[sp] for sp in many} == {"train", "val", "test"}  # every split gets Speech Commands speakers
    alone = split_real([small], False, ds)  # a real-only dataset splits even a small source by hash
    assert sum(len(v) for v in alone.values()) == len(small.clips)


def _train(sources: list[str], y: list[int]) -> dict:
    return {"sources": np.array(sources), "y": np.array(y)}


def test_a_prolific_speaker_is_weighted_down_per_word() -> None:
    tcfg = {"real_oversample": 3, "real_clips_per_word": 50}
    sources = ["synth-a"] * 2 + ["felix"] * 100 + ["felix"] * 10 + ["1a2b"]
    y = [0, 1] + [1] * 100 + [2] * 10 + [1]
    w = clip_weights(_train(sources, y), tcfg)
    np.testing.assert_allclose(w[:2], 1.0)
    np.testing.assert_allclose(w[2:102], 3 * 50 / 100)  # 100 takes of "one" count as 50
    np.testing.assert_allclose(w[102:112], 3.0)  # 10 takes of "two" are below the cap
    assert w[-1] == 3.0
    np.testing.assert_allclose(clip_weights(_train(sources, y), tcfg | {"real_clips_per_word": 0})[2:], 3.0)


def test_fractional_weights_keep_the_epoch_length_and_integer_weights_draw_nothing() -> None:
    n = 6
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None, None], 4, axis=1)
    weights = np.array([1.0, 2.0, 0.5, 0.5, 0.25, 0.75])  # 3 whole visits + 2 drawn ones per epoch
    aug = MfccAugmenter(x, np.arange(n) % 2, 2, 4, OFF, 0, None, weights)
    assert len(aug) == 2
    counts = []
    for _ in range(200):
        aug.on_epoch_end()
        assert len(aug.order) == 5 and np.sum(aug.order == 1) >= 2 and np.sum(aug.order == 0) >= 1
        counts.append(np.bincount(aug.order, minlength=n))
    mean = np.mean(counts, axis=0)
    np.testing.assert_allclose(mean, weights, atol=0.12)  # visits follow the weights on average
    a = MfccAugmenter(x, np.arange(n) % 2, 2, 4, OFF, 0, None, np.array([1, 2, 1, 1, 1, 3]))
    b = MfccAugmenter(x, np.arange(n) % 2, 2, 4, OFF, 0, None, np.array([1.0, 2.0, 1.0, 1.0, 1.0, 3.0]))
    np.testing.assert_array_equal(a.order, b.order)  # whole weights: the same draw as integer repeats


def test_folds_give_small_sources_one_speaker_each_and_hash_large_ones() -> None:
    crowd = [f"{i:08x}" for i in range(200)]
    fold = assign_folds({"fsdd": ["george", "jackson", "lucas", "nicolas"], "other": ["allison", "felix"],
                         "crowd": crowd}, 4)
    assert sorted(fold[s] for s in ("george", "jackson", "lucas", "nicolas")) == [0, 1, 2, 3]
    assert fold["allison"] != fold["felix"]
    sizes = np.bincount([fold[s] for s in crowd], minlength=4)
    assert sizes.min() > 30  # the hash spreads the large source over every fold
    assert assign_folds({"crowd": crowd[:100]}, 4) == {s: fold[s] for s in crowd[:100]}  # stable as data grows
    with pytest.raises(PipelineError, match="real_folds must be >= 2"):
        assign_folds({"crowd": crowd}, 1)


def _pool(groups: dict[str, str]) -> dict:
    def split(sources: list[str], tag: str) -> dict:
        clips = [Clip(Path(f"/{tag}/{s}/{i}.wav"), lab, s) for s in sources for i, lab in enumerate(LABELS)]
        return split_arrays(np.zeros((len(clips), 4, 3), np.float32), clips, LABELS)

    real = split(sorted(groups), "real")
    return {"synth_train": split(["synth-a"], "s"), "synth_val": split(["synth-b"], "s"), "real": real,
            "synth_train_aug": split(["synth-a"], "s"), "real_aug": real, "groups": groups}


def test_a_real_fold_never_trains_its_held_out_speakers() -> None:
    groups = {"george": "fsdd", "lucas": "fsdd", "0a1b": "crowd", "2c3d": "crowd", "4e5f": "crowd", "felix": "other"}
    fold = assign_folds({"fsdd": ["george", "lucas"], "crowd": ["0a1b", "2c3d", "4e5f"], "other": ["felix"]}, 2)
    for k in (0, 1):
        held = [s for s in groups if fold[s] == k]
        train, train_aug, val, test = make_fold(_pool(groups), held)
        trained = set(train["sources"].tolist()) | set(train_aug["sources"].tolist()) | set(val["sources"].tolist())
        assert set(test["sources"].tolist()) == set(held) and not trained & set(held)
        assert set(groups) - set(held) <= trained  # every other real speaker trains
    for subset in curve_subsets([s for s in groups if fold[s] == 1], voices=(0, 1, 2)):
        train, _, _, _ = make_fold(_pool(groups), [s for s in groups if fold[s] == 0], subset)
        assert {s for s in train["sources"].tolist() if not s.startswith("synth-")} == set(subset)


def test_curve_subsets_are_nested_and_end_with_every_speaker() -> None:
    speakers = [f"s{i}" for i in range(12)]
    subsets = curve_subsets(speakers, voices=(0, 2, 8, 32))
    assert [len(s) for s in subsets] == [0, 2, 8, 12]
    assert all(set(a) <= set(b) for a, b in zip(subsets, subsets[1:]))


def _fold(seed: int, k: int, per_source: dict[str, tuple[float, int]], agree: float = 1.0) -> dict:
    confusion = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    return {"seed": seed, "fold": k, "holdout": ["x", "y"], "model_bytes": 16000, "arena_bytes": 10000,
            "agreement": {"float_tflm": agree}, "float": {"accuracy": 0.9}, "tflm": {"accuracy": 0.9},
            "tflm_per_source": {n: {"accuracy": a, "clips": c, "confusion": confusion}
                                for n, (a, c) in per_source.items()}, "tflm_per_speaker": {}}


def test_per_source_summary_of_a_known_fixture() -> None:
    sources = [{"name": "fsdd", "kind": KIND_FSDD, "speakers": ["a", "b"]},
               {"name": "crowd", "kind": KIND_SPEECH_COMMANDS, "speakers": ["c", "d", "e"]},
               {"name": "other", "kind": KIND_OTHER, "speakers": ["f"]}]
    folds = [_fold(1, 0, {"fsdd": (1.0, 10), "crowd": (0.5, 2), "other": (0.8, 5)}),
             _fold(1, 1, {"fsdd": (0.9, 10), "crowd": (1.0, 6)}),
             _fold(2, 0, {"fsdd": (0.98, 10), "crowd": (1.0, 2), "other": (0.6, 5)}),
             _fold(2, 1, {"fsdd": (0.96, 10), "crowd": (0.5, 6)})]
    synth_only = [_fold(1, -1, {"fsdd": (0.7, 20), "crowd": (0.6, 8), "other": (0.5, 5)})]
    s = summarize(folds, synth_only, sources, load_config()["cv"], "tflm", LABELS)
    fsdd, crowd, other = (s["per_source"][n] for n in ("fsdd", "crowd", "other"))
    assert fsdd["folds"]["mean"] == pytest.approx(0.96) and fsdd["folds"]["min"] == pytest.approx(0.9)
    assert fsdd["mean_per_seed"]["mean"] == pytest.approx(0.96) and fsdd["mean_per_seed"]["std"] == pytest.approx(0.01)
    # clips pooled over a seed's folds: seed 1 (0.5 * 2 + 1.0 * 6) / 8, seed 2 (1.0 * 2 + 0.5 * 6) / 8
    assert crowd["pooled_clips_per_seed"]["mean"] == pytest.approx((7 / 8 + 5 / 8) / 2)
    assert crowd["folds"]["mean"] == pytest.approx(0.75) and crowd["folds"]["min"] == 0.5
    assert other["folds"]["mean"] == pytest.approx(0.7) and other["synthetic_only"]["mean"] == 0.5
    assert s["checks"] == {"fsdd: mean accuracy": False, "fsdd: worst fold": False, "crowd: mean accuracy": False,
                           "model_bytes": True, "arena_bytes": True, "agreement_float_tflm": True,
                           "accuracy_drop_float_tflm": True}
    good_folds = [_fold(1, k, {"fsdd": (0.98, 10), "crowd": (0.95, 4)}) for k in (0, 1)]
    assert summarize(good_folds, [], sources, load_config()["cv"], "tflm", LABELS)["passed"]


@pytest.mark.slow
def test_real_dataset_and_cv_end_to_end_on_fixtures(smoke_build: Path, tmp_path: Path) -> None:
    # Reuses the smoke build's synthetic set; tiny real sources of three layouts.
    real = [fsdd_like(tmp_path / "fsdd", ["anna", "bert"], takes=2),
            commands_like(tmp_path / "crowd", [f"{i:04x}" for i in range(SPLIT_MIN_SPEAKERS + 4)]),
            commands_like(tmp_path / "other", ["felix"], labels=["one", "two"], noise=False)]
    build = tmp_path / "build"
    build.mkdir()
    (build / "synth").symlink_to(smoke_build / "synth")
    run_stage("data", "--smoke", "--dataset", "real+synth", "--real", *map(str, real), "--build", str(build))
    summary = json.loads((build / "features" / "dataset.json").read_text())
    assert [s["layout"] for s in summary["real_sources"]] == [LAYOUT_FSDD, LAYOUT_FOLDER, LAYOUT_FOLDER]
    assert summary["noise_dir"] == str(real[1] / "_background_noise_")
    assert {"anna", "bert", "felix"} <= set(summary["splits"]["train"]["real_sources"])
    assert summary["splits"]["test"]["real_sources"]  # held-out Speech Commands-style speakers
    ids = [i for s in ("train", "val", "test") for i in np.load(build / "features" / f"{s}.npz")["ids"]]
    assert not [i for i in ids if "_background_noise_" in i]
    run_stage("experiments.cv", "--smoke", "--float-only", "--real", *map(str, real), "--build", str(build))
    report = json.loads((build / "cv_float.json").read_text())
    assert [s["kind"] for s in report["sources"]] == [KIND_FSDD, KIND_SPEECH_COMMANDS, KIND_OTHER]
    for f in report["folds"]:
        assert not set(f["holdout"]) & set(f["train_speakers"])
        assert sum(v["clips"] for v in f["float_per_source"].values()) == f["n_clips"]
    held = [sp for f in report["folds"] for sp in f["holdout"]]
    assert sorted(held) == sorted(report["fold_of"])  # every real speaker is held out exactly once
    assert "| fsdd | fsdd-style |" in (build / "cv_float.md").read_text()
    # The learning curve over the number of real training voices: every fold at every subset size, 0 voices first.
    run_stage("experiments.cv", "--smoke", "--float-only", "--curve", "--real", *map(str, real), "--build", str(build))
    curve = json.loads((build / "cv_curve.json").read_text())
    folds = sorted(set(report["fold_of"].values()))
    assert curve["complete"] and curve["points"][0]["real_speakers"] == 0
    assert curve["points"][-1]["point"] == "all" and curve["points"][-1]["tests"] == len(folds)
    assert curve["points"][0]["tests"] == len(folds)
    assert sorted({(e["fold"], e["real_speakers"]) for e in curve["entries"]}) == sorted(
        (e["fold"], e["real_speakers"]) for e in curve["entries"])  # no (fold, size) trained twice
    assert "| real training voices (per fold) | fsdd | crowd | other | models |" in (build / "cv_curve.md").read_text()
