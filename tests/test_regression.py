"""Regression (``[model] task = "regression"``): targets from a CSV, stacked BiLSTM with one linear output, MSE/MAE/R2
for float, int8 and TFLM, the device's own dequantized value (protocol minor 1, a version-1 host still works), end to
end on synthetic clips whose target is their pitch, including on the emulated firmware."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.config import CONFIG_PATH, PipelineError, load_config
from data.regression import load_targets
from host import protocol as p
from conftest import run_stage
from task_fixtures import tone_clips
from train.collapse import check_constant_output

REPO = Path(__file__).resolve().parent.parent
CLIPS = 100
CONFIG_EDITS = {'task = "classification"': 'task = "regression"', "lstm_layers = 1": "lstm_layers = 2",
                'lr_schedule = "cosine"': 'lr_schedule = "step"', "dropout = 0.1": "dropout = 0.2",
                "lstm_units = 24": "lstm_units = 16", "smoke_epochs = 2": "smoke_epochs = 15"}
# The protocol's last version-1.0 host (host/protocol.py before minor version 1), from the repository's history.
# The host of protocol 2.0 (raw audio, before minor version 1 added value=).
V20_HOST_COMMIT = "0b7f96e505b4"


@pytest.mark.parametrize("text, message", [
    ("name,target\na.wav,1\n", "the first line must be the header file,value"),
    ("file,value\na.wav,high\n", ":2: value 'high' is not a finite number"),
    ("file,value\na.wav,1\na.wav,2\n", ":3: a.wav is listed twice"),
    ("file,value\na.wav,1,2\n", ":2: expected 2 fields"),
    ("file,value\na.wav,nan\n", "not a finite number"),
])
def test_bad_targets_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(PipelineError, match=message):
        load_targets(tmp_path / "t.csv")


def test_targets_are_read_relative_to_the_data_folder(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("file,value\na.wav,1.5\nsub/b.wav,-2\n")
    clips, y = load_targets(tmp_path / "t.csv", tmp_path / "audio")
    assert [c.path for c in clips] == [tmp_path / "audio" / "a.wav", tmp_path / "audio" / "sub" / "b.wav"]
    assert y.tolist() == [1.5, -2.0] and {c.label for c in clips} == {"value"}


def test_regression_scores_and_the_constant_output_check() -> None:
    from train.metrics import regression_scores

    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert regression_scores(y, y) == {"mse": 0.0, "mae": 0.0, "r2": 1.0}
    assert regression_scores(y, y + 1) == pytest.approx({"mse": 1.0, "mae": 1.0, "r2": 0.2})
    assert regression_scores(y, np.full(4, 2.5))["r2"] == 0.0
    with pytest.raises(PipelineError, match="model collapsed: predictions vary by"):
        check_constant_output(np.full(4, 2.4865), y, "test")
    assert check_constant_output(y * 0.9, y, "test")["prediction_std"] > 0


def test_learning_rate_schedules() -> None:
    import tf_keras as keras

    from train.schedule import learning_rate

    tcfg = load_config()["train"] | {"learning_rate": 0.01}
    step = learning_rate(keras, tcfg | {"lr_schedule": "step"}, 100)
    assert [round(float(step(s)), 6) for s in (0, 24, 25, 50, 99)] == [0.01, 0.01, 0.005, 0.0025, 0.00125]
    assert learning_rate(keras, tcfg | {"lr_schedule": "constant"}, 100) == 0.01
    assert float(learning_rate(keras, tcfg | {"lr_schedule": "cosine"}, 100)(100)) == 0.0
    with pytest.raises(PipelineError, match="lr_schedule must be one of cosine, constant, step"):
        learning_rate(keras, tcfg | {"lr_schedule": "linear"}, 100)


def test_stacked_layers_and_the_linear_output() -> None:
    from train.model import build_model

    cfg = load_config()["model"] | {"lstm_units": 4, "lstm_layers": 3, "task": "regression"}
    model = build_model((20, 13), 1, cfg)
    assert [layer.name for layer in model.layers if layer.name.startswith("bilstm_")] == ["bilstm_1", "bilstm_2"]
    assert model.output_shape == (None, 1) and model.layers[-1].get_config()["activation"] == "linear"
    with pytest.raises(PipelineError, match="task must be one of classification, regression"):
        build_model((20, 13), 2, cfg | {"task": "ranking"})


def test_device_value_is_parsed_and_a_device_without_it_still_works() -> None:
    old = p.parse_device_line(p.frame("OK INFER us=1 cycles=64 top=1 scores=-128,127"))
    assert isinstance(old, p.InferResult) and old.value is None
    new = p.parse_device_line(p.frame("OK INFER us=1 cycles=64 top=1 scores=-128,127 value=3F7F0000"))
    assert new.value == 255 / 256 and p.encode_infer(new) == p.frame(
        "OK INFER us=1 cycles=64 top=1 scores=-128,127 value=3F7F0000")
    with pytest.raises(p.ProtocolError, match="not an 8-digit float hex"):
        p.parse_device_line(p.frame("OK INFER us=1 cycles=64 top=1 scores=-128,127 value=0.99"))


def test_a_version_2_0_host_reads_the_minor_version_1_replies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host/protocol.py of protocol 2.0 (before minor version 1) parses today's golden HELLO and INFER replies."""
    old = subprocess.run(["git", "show", f"{V20_HOST_COMMIT}:host/protocol.py"], cwd=REPO, capture_output=True,
                         text=True)
    if old.returncode != 0:
        pytest.skip(f"the repository's history lacks commit {V20_HOST_COMMIT} (a shallow clone?)")
    (tmp_path / "protocol_v20.py").write_text(old.stdout)
    spec = importlib.util.spec_from_file_location("protocol_v20", tmp_path / "protocol_v20.py")
    v20 = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "protocol_v20", v20)  # dataclasses look their module up there
    spec.loader.exec_module(v20)
    assert not hasattr(v20, "PROTOCOL_MINOR")
    golden = (REPO / "firmware" / "protocol" / "golden_vectors.txt").read_text()
    rows = [line.split("\t") for line in golden.splitlines()]
    replies = {fields[0]: fields[2] for fields in rows if len(fields) == 3}
    hello = replies["hello"].replace("\\n", "\n").encode()
    infer = replies["infer"].replace("\\n", "\n").encode()
    assert b" minor=1 " in hello and b" value=" in infer
    info, result = v20.parse_device_line(hello), v20.parse_device_line(infer)
    assert isinstance(info, v20.HelloInfo) and info.labels[-1] == "nine"
    assert isinstance(result, v20.InferResult) and result.scores == p.parse_device_line(infer).scores
    assert p.parse_device_line(hello).minor == 1


@pytest.fixture(scope="module")
def pitch_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Clips whose target is their pitch (hundreds of Hz), as `make train quantize TARGETS=<csv> DATA_DIR=...` with
    task = "regression", 2 stacked BiLSTM layers, dropout 0.2, the step schedule; the collapse check on."""
    root = tmp_path_factory.mktemp("pitch")
    text = CONFIG_PATH.read_text()
    for old, new in CONFIG_EDITS.items():
        assert old in text
        text = text.replace(old, new)
    config = root / "config.toml"
    config.write_text(text)
    clips, targets = tone_clips(root / "data", CLIPS)
    build = root / "build"
    run_stage("data", "--targets", str(targets), "--data-dir", str(clips), "--build", str(build), config=config)
    run_stage("train", "--smoke", "--build", str(build), config=config)
    run_stage("quantize", "--build", str(build), config=config)  # not --smoke: the constant-output check runs
    run_stage("host.evaluate", "--build", str(build), config=config)
    return build


def test_metrics_give_mse_mae_r2_per_backend(pitch_build: Path) -> None:
    metrics = json.loads((pitch_build / "metrics.json").read_text())
    assert metrics["task"] == "regression" and metrics["labels"] == ["value"]
    for backend in ("float", "int8", "tflm"):
        assert set(metrics[backend]) == {"mse", "mae", "r2"}
        assert metrics[backend]["mae"] ** 2 <= metrics[backend]["mse"] + 1e-9
    # The pitch is learned (R2 0 is a constant prediction of the mean), and int8 keeps it.
    assert metrics["float"]["r2"] > 0.3 and metrics["tflm"]["r2"] > 0.3
    assert metrics["agreement"]["mae_float_tflm"] < 0.5 * metrics["target"]["std"]
    record = json.loads((pitch_build / "train.json").read_text())
    assert record["model_config"]["lstm_layers"] == 2 and record["task"] == "regression"
    meta = json.loads((pitch_build / "model_meta.json").read_text())
    assert meta["task"] == "regression" and "SOFTMAX" not in meta["ops"]
    assert "MSE" in (pitch_build / "report.md").read_text()


def test_emulated_firmware_sends_the_host_value(pitch_build: Path, tmp_path: Path) -> None:
    from host import harness
    from test_emulated_firmware import build_emulated_firmware

    build_emulated_firmware(pitch_build)
    summary = harness.run("emu", pitch_build, tmp_path, report=True)
    assert summary["identical"]["device_tflm"] == 1.0
    assert summary["identical"]["device_value_host_tflm"] == 1.0  # dequantized on the device, bit for bit
    reg = summary["regression"]
    assert reg["device_value"] == "sent by the device" and reg["device_vs_host"]["max_abs_tflm"] == 0.0
    metrics = json.loads((pitch_build / "metrics.json").read_text())
    assert reg["device"]["mse"] == pytest.approx(metrics["tflm"]["mse"])
    assert "Regression (device value sent by the device)" in (tmp_path / "report.md").read_text()


def test_predict_prints_the_value(pitch_build: Path) -> None:
    out = run_stage("host.predict", "--random", "--seed", "1", "--build", str(pitch_build),
                    config=pitch_build.parent / "config.toml").stdout
    assert re.fullmatch(r"\S+clip-\d+\.wav: value -?[\d.]+ \(tflm\), true value -?[\d.]+\n", out), out
