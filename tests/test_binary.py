"""A two-label folder dataset (one FSDD speaker vs another) goes through data -> train -> quantize and reports
ROC-AUC, F1 and the confusion matrix for every backend."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_stage

pytestmark = pytest.mark.slow

CLIPS_PER_SPEAKER = 30


def test_two_speaker_folder_reports_binary_metrics(tmp_path: Path, fsdd_dir: Path) -> None:
    data = tmp_path / "speakers"
    for speaker in ("george", "jackson"):
        (data / speaker).mkdir(parents=True)
        for wav in sorted((fsdd_dir / "recordings").glob(f"*_{speaker}_*.wav"))[:CLIPS_PER_SPEAKER]:
            # Dashes instead of underscores: the FSDD name would make the speaker (= the label) the split unit.
            (data / speaker / wav.name.replace("_", "-")).symlink_to(wav)
    build = tmp_path / "build"
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--smoke", "--build", str(build))
    run_stage("train", "--smoke", "--build", str(build))
    run_stage("quantize", "--smoke", "--build", str(build))
    run_stage("host.evaluate", "--build", str(build))
    metrics = json.loads((build / "metrics.json").read_text())
    assert metrics["labels"] == ["george", "jackson"]
    for backend in ("float", "int8", "tflm"):
        m = metrics[backend]
        assert 0.0 <= m["roc_auc"] <= 1.0 and 0.0 <= m["f1"] <= 1.0
        assert len(m["confusion"]) == 2 and sum(map(sum, m["confusion"])) == metrics["n_clips"]
    assert "ROC-AUC" in (build / "report.md").read_text()
