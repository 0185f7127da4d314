"""A sound that is no word is never shown as a bare word: the answer rule (data/nothing.py), its int8 form that the
board applies, and the surfaces that show it (predict, evaluate, the harness; the demo page: tests/test_demo.py; the
firmware: firmware/src/core/device_test.cc and the golden vectors)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import run_stage
from data.nothing import LOW_CONFIDENCE, NOT_A_WORD, WORD, answer, int8_answer, min_word_score
from experiments.nonspeech import write_nonspeech
from test_bad_input import good, one_error_line


@pytest.mark.parametrize("scale, zero_point", [(1 / 256, -128), (0.0037, -120), (0.01, 0)])
@pytest.mark.parametrize("min_confidence", [0.0, 0.3, 0.5, 0.62, 0.99])
def test_min_word_score_is_the_lowest_score_that_reaches_min_confidence(scale: float, zero_point: int,
                                                                       min_confidence: float) -> None:
    s = min_word_score(min_confidence, scale, zero_point)
    probability = lambda q: np.float32(q - zero_point) * np.float32(scale)  # noqa: E731 - the board's binary32
    words = [q for q in range(-128, 128) if probability(q) >= np.float32(min_confidence)]
    assert s == (words[0] if words else 128)
    assert all(q >= s for q in words) and all(probability(q) < min_confidence for q in range(-128, min(s, 128)))


def test_min_word_score_when_no_score_is_a_word() -> None:
    assert min_word_score(1.5, 1 / 256, -128) == 128


def test_the_answer_rule() -> None:
    labels = ["zero", "one", "_silence_"]
    assert answer("one", True) == WORD and answer("one", False) == LOW_CONFIDENCE
    assert answer("_silence_", True) == answer("_unknown_", False) == NOT_A_WORD
    assert int8_answer(labels, [-100, 20, 10], 0) == (1, WORD)
    assert int8_answer(labels, [-100, -5, -10], 0) == (1, LOW_CONFIDENCE)
    assert int8_answer(labels, [-100, 20, 90], 0) == (2, NOT_A_WORD)
    assert int8_answer(labels, [20, 20, -10], 21) == (0, LOW_CONFIDENCE)  # ties: the first, as the board


@pytest.mark.slow
def test_the_model_carries_its_rule(smoke_build: Path) -> None:
    """model_meta.json, the .tflite's own metadata and the firmware's model_settings.h hold the same rule."""
    from quantize.model_io import load_meta, read_metadata

    meta = load_meta(smoke_build)
    rule = meta["answer"]
    assert rule["min_word_score"] == min_word_score(rule["min_confidence"], meta["output"]["scale"],
                                                    meta["output"]["zero_point"])
    assert read_metadata((smoke_build / "model_int8.tflite").read_bytes())["answer"] == rule
    settings = (smoke_build / "gen" / "model_settings.h").read_text()
    assert f"constexpr int kMinWordScore = {rule['min_word_score']};" in settings


def eval_folder(tmp_path: Path, smoke_build: Path, data: Path, *args: str) -> tuple[dict, str, object]:
    out = tmp_path / "out" / "e.json"
    proc = run_stage("host.evaluate", "--data", str(data), "--out", str(out), "--build", str(smoke_build), *args,
                     check=False)
    return (json.loads(out.read_text()) if out.exists() else {}), proc.stdout, proc


@pytest.mark.slow
def test_evaluate_one_label_and_clips_that_are_no_word(tmp_path: Path, smoke_build: Path) -> None:
    """"Does it hear my seven": a folder with one label; tones and noise in folders starting with _ are counted as
    no word: each is not speech (the host's check), not a word, low confidence, or (wrongly) a word."""
    data = tmp_path / "data"
    (data / "seven").mkdir(parents=True)
    for i in range(3):
        good(data / "seven" / f"s{i}.wav", i)
    write_nonspeech(data, 3, seed=1, kinds=("tone", "burst"))
    import soundfile as sf

    t = np.arange(16000) / 16000
    sf.write(data / "_tone_" / "steady.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    metrics, stdout, proc = eval_folder(tmp_path, smoke_build, data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert metrics["n_clips"] == 3 and metrics["tflm"]["confusion"]
    assert len(metrics["clips"]) == 3 + 3 + 3  # the steady tone never reaches the model
    assert all(c["tflm"]["answer"] in (WORD, NOT_A_WORD, LOW_CONFIDENCE) for c in metrics["clips"])
    tone = metrics["nonwords"]["_tone_"]
    assert tone["clips"] == 4 and tone["not_speech"] == 1 and tone["tones"] == 3  # the tone check, on every tone
    assert tone["tflm"][WORD] == 0 and tone["tflm"]["rejected"] == 1.0
    assert metrics["nonwords"]["_burst_"]["tones"] == 0
    assert sum(metrics["answers"]["tflm"].values()) == 9
    assert "_tone_: 4 clips that are no word, 100.0 % not shown as a word (tflm: 1 not speech, 3 not a word (3 tones)" \
        in stdout
    assert "## Answers" in (tmp_path / "out" / "e.md").read_text()


@pytest.mark.slow
def test_evaluate_a_flat_folder_with_label(tmp_path: Path, smoke_build: Path) -> None:
    data = tmp_path / "flat"
    data.mkdir()
    for i in range(2):
        good(data / f"s{i}.wav", i)
    line = one_error_line(eval_folder(tmp_path, smoke_build, data)[2])
    assert "2 .wav files directly in it: name their label with LABEL=<label>" in line
    metrics, _, proc = eval_folder(tmp_path, smoke_build, data, "--label", "seven")
    assert proc.returncode == 0 and metrics["n_clips"] == 2 and {c["label"] for c in metrics["clips"]} == {"seven"}
    line = one_error_line(eval_folder(tmp_path, smoke_build, data, "--label", "banana")[2])
    assert "LABEL=banana: not a label of the model" in line


@pytest.mark.slow
def test_evaluate_says_how_many_files_were_skipped_and_where(tmp_path: Path, smoke_build: Path) -> None:
    data = tmp_path / "data"
    (data / "one").mkdir(parents=True)
    good(data / "one" / "ok.wav")
    (data / "one" / "bad.wav").write_text("not audio")
    os.symlink("loop.wav", data / "one" / "loop.wav")
    out = tmp_path / "out" / "e.json"
    metrics, stdout, proc = eval_folder(tmp_path, smoke_build, data, "--skip-bad")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(metrics["skipped"]) == 2
    assert f"skipped 2 bad files, listed in {out} and {out.with_suffix('.md')}" in stdout


@pytest.mark.parametrize("make, reason", [(lambda p: p.mkdir(), "a folder, not a WAV file"),
                                          (lambda p: os.symlink(p.name, p), "symbolic link loop")])
@pytest.mark.slow
def test_predict_gives_the_reasons_evaluate_gives(tmp_path: Path, smoke_build: Path, make: object,
                                                  reason: str) -> None:
    data = tmp_path / "data"
    (data / "one").mkdir(parents=True)
    good(data / "one" / "ok.wav")
    entry = data / "one" / "x.wav"
    make(entry)
    line = one_error_line(run_stage("host.predict", "--file", str(entry), "--build", str(smoke_build), check=False))
    assert line == f"error: {entry}: {reason}"
    listed = eval_folder(tmp_path, smoke_build, data, "--skip-bad")[0]["skipped"]
    assert listed == [f"{entry}: {reason}"]


@pytest.mark.slow
def test_predict_shows_the_answer_never_a_bare_label_for_a_tone(tmp_path: Path, smoke_build: Path) -> None:
    write_nonspeech(tmp_path, 1, seed=2, kinds=("tone",))
    clip = tmp_path / "_tone_" / "tone_0.wav"
    proc = run_stage("host.predict", "--file", str(clip), "--build", str(smoke_build))
    first = proc.stdout.splitlines()[0]
    shown = first.removeprefix(f"{clip}: ").removesuffix(" (tflm)")
    scores = {line.split()[0]: float(line.split()[1]) for line in proc.stdout.splitlines()[1:]}
    top = max(scores, key=scores.get)
    # A tone is no word whatever the model says: why, with the label and its probability.
    assert re.fullmatch(rf"not a word \(a tone; {top} \d\.\d\d\)", shown), shown


@pytest.mark.slow
def test_harness_answers_are_the_devices_and_the_hosts(smoke_build: Path, tmp_path: Path) -> None:
    """The virtual device sends answer= (protocol 2.2); every one equals the host TFLM's."""
    from host import harness

    summary = harness.run("virtual", smoke_build, tmp_path, n=6, report=True)
    ans = summary["answers"]
    assert ans["sent_by_device"] and ans["identical_device_tflm"] == 1.0
    assert sum(ans["device"].values()) == 6 and ans["device"] == ans["host_tflm"]
    records = [json.loads(line)["clip"] for line in (tmp_path / "results.jsonl").read_text().splitlines()[1:]]
    assert all(r["answer"] in (WORD, NOT_A_WORD, LOW_CONFIDENCE) for r in records)
    assert "| answers |" in (tmp_path / "report.md").read_text()


class InterruptAfter:
    """Test double of the harness's clip sender: the real one for ``n`` clips, then Ctrl-C."""

    def __init__(self, real: object, n: int) -> None:
        self.real, self.n = real, n

    def __call__(self, dut: object, clip: np.ndarray) -> tuple[dict, int]:
        if self.n == 0:
            raise KeyboardInterrupt
        self.n -= 1
        return self.real(dut, clip)


@pytest.mark.slow
def test_an_interrupted_harness_leaves_a_partial_summary_of_what_finished(smoke_build: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from host import harness

    harness.run("virtual", smoke_build, tmp_path, n=5, report=True)  # an earlier, complete run
    monkeypatch.setattr(harness, "run_features", InterruptAfter(harness.run_features, 3))
    with pytest.raises(harness.HarnessError, match=r"interrupted; 3 of 8 results kept in .*results\.jsonl; a partial "
                                                   r"summary of them in .*summary\.json; continue with RESUME=1"):
        harness.run("virtual", smoke_build, tmp_path, n=8, report=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["clips"] == 3 and "RESUME=1" in summary["partial"]
    assert (tmp_path / "report.md").read_text().startswith("# Host harness report (partial)")
    # Ctrl-C while the finished run is summarized: no summary of other results is left beside them.
    monkeypatch.setattr(harness, "run_features", InterruptAfter(harness.run_features.real, 5))

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(harness, "summarize", interrupted)
    with pytest.raises(harness.HarnessError, match=r"interrupted while summarizing; all 8 results are in .*: "
                                                   r"RESUME=1 writes the summary"):
        harness.run("virtual", smoke_build, tmp_path, n=8, resume=True, report=True)
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "report.md").exists()
