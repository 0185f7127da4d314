"""Long recordings (voice classification): windows, recording-wise splits, per-recording results, the duration-bias
and collapse checks, end to end on two synthetic voices reading sentences, including on the emulated firmware."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.config import CONFIG_PATH, PipelineError, load_config
from data.datasets import Clip
from data.features import FeatureParams
from data.windows import WindowSettings, recording_windows, window_starts
from host.recordings import duration_bias
from train.metrics import check_recording_collapse, recording_means
from conftest import run_stage
from task_fixtures import seconds_of, two_voice_recordings

REPO = Path(__file__).resolve().parent.parent
# Recordings per split and voice in the fixture, and the configuration it runs under: wider val/test splits (few
# recordings) and enough smoke epochs for the two voices to be learned.
PER_SPLIT = {"train": 4, "val": 2, "test": 2}
CONFIG_EDITS = {"val_percent = 15": "val_percent = 25", "test_percent = 15": "test_percent = 25",
                "smoke_epochs = 2": "smoke_epochs = 20"}


def test_windows_cover_a_recording_with_the_configured_hop() -> None:
    assert window_starts(16000, 16000, 8000) == [0]
    assert window_starts(40000, 16000, 8000) == [0, 8000, 16000, 24000]
    assert window_starts(41000, 16000, 8000) == [0, 8000, 16000, 24000, 25000]  # the tail is kept
    params = FeatureParams.from_config()
    rng = np.random.default_rng(0)
    speechy = rng.normal(0, 0.1, 3 * params.sample_rate) * np.abs(np.sin(np.linspace(0, 30, 3 * params.sample_rate)))
    x = recording_windows(speechy.astype(np.float32), params, params.sample_rate // 2)
    assert x.shape[1:] == params.shape and len(x) >= 5


@pytest.mark.parametrize("values, message", [
    ({"mode": "sometimes"}, "mode must be one of auto, on, off"),
    ({"hop_seconds": 0.0}, "hop_seconds must be positive"),
])
def test_bad_window_settings_are_one_line(values: dict, message: str) -> None:
    settings = load_config()["windows"] | values
    with pytest.raises(PipelineError, match=message):
        WindowSettings(**settings)


def test_auto_mode_detects_long_recordings(tmp_path: Path) -> None:
    from data.synth import write_wav

    clips = []
    for i, seconds in enumerate((0.8, 5.0, 6.0)):
        write_wav(tmp_path / f"{i}.wav", np.zeros(int(seconds * 16000), np.int16), 16000)
        clips.append(Clip(tmp_path / f"{i}.wav", "a", str(i)))
    auto = WindowSettings("auto", 0.5, 2.0)
    assert auto.applies(clips) and not auto.applies(clips[:1])
    assert not WindowSettings("off", 0.5, 2.0).applies(clips) and WindowSettings("on", 0.5, 2.0).applies(clips[:1])


def test_a_constant_score_is_refused_per_recording() -> None:
    """The known failure: one score (0.4865) for every window of every recording."""
    recordings = np.repeat(["a.wav", "b.wav", "c.wav", "d.wav"], 5)
    constant = np.tile([[0.5135, 0.4865]], (20, 1)).astype(np.float32)
    with pytest.raises(PipelineError, match="per recording: model collapsed"):
        check_recording_collapse(constant, recordings, "test")
    p1 = np.where(np.arange(20) // 5 % 2, 0.6, 0.1) + np.linspace(0, 0.3, 20)  # b and d high, a and c low
    good = np.stack([1 - p1, p1], axis=1).astype(np.float32)
    first, means = recording_means(good, recordings)
    assert list(first) == [0, 5, 10, 15] and means.argmax(1).tolist() == [0, 1, 0, 1]
    assert check_recording_collapse(good, recordings, "test")["histogram"] == [2, 2]


def test_duration_bias_is_measured() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    biased = duration_bias(y, np.array([5.0, 5.5, 6.0, 9.0, 9.5, 10.0]), np.ones(6, bool), ["me", "mom"])
    fair = duration_bias(y, np.array([5.0, 9.0, 7.0, 5.5, 9.5, 7.1]), np.ones(6, bool), ["me", "mom"])
    assert biased["duration_roc_auc"] == 1.0 and 0.3 < fair["duration_roc_auc"] < 0.7
    assert sum(b["recordings"] for b in biased["accuracy_by_duration"]) == 6


@pytest.fixture(scope="module")
def voices_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two espeak-ng voices reading sentences (5-10 s), as `make train quantize DATASET=folder DATA_DIR=...` runs
    them (windowing detected, ``[windows] mode = "auto"``); training smoke-sized, the collapse checks on."""
    root = tmp_path_factory.mktemp("voices")
    text = CONFIG_PATH.read_text()
    for old, new in CONFIG_EDITS.items():
        assert old in text
        text = text.replace(old, new)
    config = root / "config.toml"
    config.write_text(text)
    data = two_voice_recordings(root / "data", PER_SPLIT, 25, 25)
    build = root / "build"
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(build), config=config)
    run_stage("train", "--smoke", "--build", str(build), config=config)
    run_stage("quantize", "--build", str(build), config=config)  # not --smoke: the collapse checks run
    run_stage("host.evaluate", "--build", str(build), config=config)
    return build


def test_fixture_is_two_voices_reading_for_5_to_10_seconds(voices_build: Path) -> None:
    wavs = sorted((voices_build.parent / "data").glob("*/*.wav"))
    assert len(wavs) == 2 * sum(PER_SPLIT.values())
    assert all(5.0 <= seconds_of(w) <= 10.0 for w in wavs), [round(seconds_of(w), 2) for w in wavs]


def test_windows_of_a_recording_stay_in_its_split(voices_build: Path) -> None:
    splits = {s: np.load(voices_build / "features" / f"{s}.npz") for s in ("train", "val", "test")}
    recordings = {s: set(z["recordings"].tolist()) for s, z in splits.items()}
    assert not recordings["train"] & recordings["val"] and not recordings["train"] & recordings["test"]
    assert not recordings["val"] & recordings["test"]
    for s, z in splits.items():
        assert len(recordings[s]) == 2 * PER_SPLIT[s]
        assert len(z["y"]) > 4 * len(recordings[s])  # 5-10 s at a 0.5 s hop: many windows each
        assert len(set(z["ids"].tolist())) == len(z["ids"])
    summary = json.loads((voices_build / "features" / "dataset.json").read_text())
    assert summary["windows"]["hop_samples"] == 8000


def test_reports_give_window_and_recording_results(voices_build: Path) -> None:
    metrics = json.loads((voices_build / "metrics.json").read_text())
    rec = metrics["recording"]
    assert rec["n_recordings"] == 2 * PER_SPLIT["test"]
    for backend in ("float", "int8", "tflm"):
        assert {"accuracy", "roc_auc", "f1", "confusion"} <= set(rec[backend]) | set(metrics[backend])
        assert sum(map(sum, rec[backend]["confusion"])) == rec["n_recordings"]
        assert sum(map(sum, metrics[backend]["confusion"])) == metrics["n_clips"]
    assert rec["accuracy"] == rec["tflm"]["accuracy"] and rec["roc_auc"] == rec["tflm"]["roc_auc"]
    # Two clearly different voices: learned, per window and per recording.
    assert metrics["float"]["accuracy"] >= 0.8 and rec["float"]["accuracy"] >= 0.75 and rec["roc_auc"] >= 0.75
    assert 0.0 <= rec["duration"]["duration_roc_auc"] <= 1.0 and rec["duration"]["accuracy_by_duration"]
    report = (voices_build / "report.md").read_text()
    assert "## Long recordings: per window and per recording" in report and "### Duration-bias check" in report


def test_emulated_firmware_classifies_the_windows(voices_build: Path, tmp_path: Path) -> None:
    from host import harness
    from test_emulated_firmware import build_emulated_firmware

    build_emulated_firmware(voices_build)
    summary = harness.run("emu", voices_build, tmp_path, report=True)
    test = np.load(voices_build / "features" / "test.npz")
    assert summary["clips"] == len(test["y"])
    assert summary["identical"]["device_tflm"] == 1.0
    rec = summary["recording"]
    assert rec["recordings"] == 2 * PER_SPLIT["test"]
    assert rec["device"]["accuracy"] == rec["host_tflm"]["accuracy"]


def test_evaluating_a_folder_of_recordings_windows_them_like_training(voices_build: Path, tmp_path: Path) -> None:
    """`make evaluate DATA=<recordings>`: the model's metadata carries the windows, so recordings are not cropped."""
    env = {"PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "eval.json"
    proc = subprocess.run([sys.executable, "-m", "host.evaluate", "--data", str(voices_build.parent / "data"),
                           "--out", str(out), "--build", str(voices_build)], cwd=REPO, env=os.environ | env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(out.read_text())
    meta = json.loads((voices_build / "model_meta.json").read_text())
    assert meta["windows"]["hop_samples"] == 8000
    splits = [np.load(voices_build / "features" / f"{s}.npz") for s in ("train", "val", "test")]
    assert metrics["n_clips"] == sum(len(z["y"]) for z in splits)  # the same windows as the data stage
    assert metrics["recording"]["n_recordings"] == 2 * sum(PER_SPLIT.values())
    assert "## Long recordings" in out.with_suffix(".md").read_text()


def test_predicting_a_recording_averages_its_windows(voices_build: Path) -> None:
    """`make predict FILE=<recording>` with a windowed model: the mean of the same windows' probabilities."""
    from host.predict import predict_recording
    from host.runtime import Runtime

    test = np.load(voices_build / "features" / "test.npz")
    wav = Path(str(test["recordings"][0]))
    rows = test["recordings"] == str(wav)
    with Runtime.open(voices_build, warn=False) as rt:
        probs = predict_recording(rt, wav, "tflm")
        expected = rt.probabilities("tflm", rt.scores("tflm", test["x"][rows])).mean(axis=0)
    np.testing.assert_array_equal(probs, expected)
