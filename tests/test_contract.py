"""The model is the contract, and a failed run loses nothing.

(a) After training, editing ``config.toml`` changes no prediction or metric: every inference command reads the
model's metadata and says in one line which values it overrides. (b) A failed train / quantize / evaluate / harness
run leaves every earlier artifact byte-identical, and a stage refuses inputs that do not belong together.
(e) No module imports a ``__main__``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_stage
from data.config import CONFIG_PATH, PipelineError

# Outputs of the stages (caches and logs are not artifacts a later stage reads).
NOT_ARTIFACTS = ("cache", "synth", "tensorboard")


def snapshot(build: Path) -> dict[str, str]:
    """SHA-256 of every artifact file of a build folder, by relative path."""
    return {str(p.relative_to(build)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(build.rglob("*")) if p.is_file() and p.relative_to(build).parts[0] not in NOT_ARTIFACTS}


@pytest.fixture
def build(smoke_build: Path, tmp_path: Path) -> Path:
    """A private copy of the smoke build (the tests below break things)."""
    copy = tmp_path / "build"
    shutil.copytree(smoke_build, copy, symlinks=True, ignore=shutil.ignore_patterns("tensorboard"))
    return copy


def edited_config(tmp_path: Path) -> Path:
    """config.toml with a different front end (trimming and filterbank range), as a user might edit it."""
    text = CONFIG_PATH.read_text()
    text = text.replace("trim_db = 25.0", "trim_db = 40.0").replace("fmax = 3800.0", "fmax = 3000.0")
    path = tmp_path / "edited.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_predictions_and_metrics_ignore_config_edits_after_training(build: Path, tmp_path: Path) -> None:
    wav = next((build / "synth").rglob("*.wav"))
    edited = {"PIPELINE_CONFIG": str(edited_config(tmp_path))}
    outputs = []
    for env in ({}, edited):
        os.environ.update(env)
        try:
            pred = run_stage("host.predict", "--file", str(wav), "--backend", "tflm", "--build", str(build))
            out = tmp_path / f"eval{len(outputs)}.json"
            folder = wav.parent.parent
            ev = run_stage("host.evaluate", "--data", str(folder), "--out", str(out), "--build", str(build))
        finally:
            for key in env:
                del os.environ[key]
        metrics = json.loads(out.read_text())
        outputs.append((pred.stdout, {k: metrics[k] for k in ("float", "int8", "tflm", "agreement")}, ev.stderr))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == outputs[1][1]
    assert "note:" not in outputs[0][2]
    assert re.search(r"note: config.toml differs from the model in features.fmax, features.trim_db; using the "
                     r"model's values", outputs[1][2]), outputs[1][2]


@pytest.mark.slow
def test_a_failed_quantize_leaves_every_artifact_as_it_was(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quantize import build as qbuild

    before = snapshot(build)

    def refuse(*_: object) -> None:
        raise PipelineError("op check failed (test double)")

    monkeypatch.setattr(qbuild, "check_ops", refuse)  # fails after the new model exists in the staging folder
    with pytest.raises(PipelineError, match="test double"):
        qbuild.run(build, smoke=True)
    assert snapshot(build) == before
    assert not list(build.glob(".staging-*"))


@pytest.mark.slow
def test_a_failed_training_leaves_every_artifact_as_it_was(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from train import fit

    before = snapshot(build)

    def collapsed(*_: object) -> None:
        raise PipelineError("collapse check failed (test double)")

    monkeypatch.setattr(fit, "check_collapse", collapsed)  # fails after training, before anything is written
    monkeypatch.setattr(fit, "schedule", lambda config, smoke: (1, 0))  # one epoch is enough to fail
    with pytest.raises(PipelineError, match="test double"):
        fit.run(build, 1, "bilstm", smoke=False)
    assert snapshot(build) == before


@pytest.mark.slow
def test_a_failed_evaluation_leaves_every_artifact_as_it_was(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from host import evaluate

    before = snapshot(build)

    def broken(*_: object, **__: object) -> None:
        raise OSError("disk full (test double)")

    monkeypatch.setattr(evaluate, "write_report", broken)  # after metrics.json is written to the staging folder
    with pytest.raises(OSError, match="test double"):
        evaluate.evaluate_split(build)
    assert snapshot(build) == before


@pytest.mark.parametrize("out, reason", [
    ("m.md", "the output must be a .json file"),
    ("folder.json", "is a folder, not a .json file"),
])
@pytest.mark.slow
def test_evaluate_checks_out_before_any_work(build: Path, tmp_path: Path, out: str, reason: str) -> None:
    (tmp_path / "folder.json").mkdir()
    before = snapshot(build)
    proc = run_stage("host.evaluate", "--data", str(build / "synth"), "--out", str(tmp_path / out), "--build",
                     str(build), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / out}: {reason}"]
    assert snapshot(build) == before


@pytest.mark.slow
def test_evaluate_refuses_an_unwritable_out(build: Path) -> None:
    proc = run_stage("host.evaluate", "--data", str(build / "synth"), "--out", "/proc/x.json", "--build", str(build),
                     check=False)
    assert proc.returncode == 2
    assert re.fullmatch(r"error: /proc/x\.json: (its folder /proc is not writable|cannot write in /proc .*)\n",
                        proc.stderr)


@pytest.mark.slow
def test_a_harness_that_cannot_connect_keeps_the_earlier_results(build: Path) -> None:
    from host import harness

    harness.run("virtual", build, n=3, report=False)
    before = snapshot(build)
    with pytest.raises(harness.HarnessError):
        harness.run(str(build / "no-such-tty"), build, n=3, report=False)
    assert snapshot(build) == before


@pytest.mark.slow
def test_new_features_from_other_labels_are_refused_by_later_stages(build: Path, tmp_path: Path) -> None:
    """The issue's case: `make train` on a two-label folder replaced the features and failed; quantize, evaluate and
    predict then mixed the old model with the new features."""
    two = tmp_path / "two_labels"
    for label in ("zero", "one"):
        shutil.copytree(build / "synth" / label, two / label)
    run_stage("data", "--dataset", "folder", "--data-dir", str(two), "--build", str(build))
    before = snapshot(build)
    proc = run_stage("quantize", "--smoke", "--build", str(build), check=False)
    assert proc.returncode == 2
    assert re.fullmatch(r"error: .*model_float\.h5 was trained on other features than .*features \(labels \[.*\] vs "
                        r"\['one', 'zero'\].*\): run `make train` again\n", proc.stderr), proc.stderr
    for module in ("host.evaluate", "host.predict"):
        args = ["--random"] if module == "host.predict" else []
        proc = run_stage(module, *args, "--build", str(build), check=False)
        assert proc.returncode == 2
        assert re.fullmatch(r"error: .*features: labels \['one', 'zero'\] are not the model's \[.*\]; run `make train "
                            r"quantize` again\n", proc.stderr), proc.stderr
    assert snapshot(build) == before


def test_no_module_imports_a_main() -> None:
    offenders = []
    for path in REPO.rglob("*.py"):
        if ".venv" in path.parts or "build" in path.parts:
            continue
        for line in path.read_text().splitlines():
            if re.match(r"\s*(from\s+[\w.]+\.__main__\s+import|import\s+[\w.]+\.__main__)", line):
                offenders.append(f"{path.relative_to(REPO)}: {line.strip()}")
    assert offenders == []
