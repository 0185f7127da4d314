"""The smoke-sized pipeline end to end: artifacts, metrics schema, metadata, generated C, TFLM behaviour."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import run_stage
from data.config import PipelineError
from data.datasets import load_split
from quantize.build import check_ops, firmware_ops, resolver_op_name
from quantize.model_io import TflmRunner, device_input, load_meta, model_hash, read_metadata

EXPECTED_OPS = ["CONCATENATION", "FULLY_CONNECTED", "MEAN", "REVERSE_V2", "SOFTMAX",
                "UNIDIRECTIONAL_SEQUENCE_LSTM"]


@pytest.mark.slow
def test_metrics_schema(smoke_build: Path) -> None:
    m = json.loads((smoke_build / "metrics.json").read_text())
    for backend in ("float", "int8", "tflm"):
        assert 0.0 <= m[backend]["accuracy"] <= 1.0
    for pair in ("float_int8", "int8_tflm", "float_tflm"):
        assert 0.0 <= m["agreement"][pair] <= 1.0
    test = load_split(smoke_build / "features" / "test.npz")
    assert m["n_clips"] == len(test["y"]) > 0
    assert m["model_bytes"] == (smoke_build / "model_int8.tflite").stat().st_size
    assert 0 < m["arena_bytes"] <= m["tensor_arena_size"]
    assert m["ops"] == EXPECTED_OPS
    assert {"rmse_float_int8", "cosine_float_int8"} <= set(m["scores"])
    report = (smoke_build / "report.md").read_text()
    assert "device-equivalent" in report and "| zero |" in report
    for backend in ("float", "int8"):
        assert (smoke_build / f"report_confusion_{backend}.png").stat().st_size > 1000
    assert (smoke_build / "curves.png").exists() and any((smoke_build / "tensorboard").rglob("events.*"))


@pytest.mark.slow
def test_model_is_full_int8_and_carries_its_metadata(smoke_build: Path) -> None:
    meta = load_meta(smoke_build)
    tflite = (smoke_build / "model_int8.tflite").read_bytes()
    assert meta["model_hash"] == model_hash(tflite)
    embedded = read_metadata(tflite)
    assert embedded["norm"] == meta["norm"] and embedded["features"] == meta["features"]
    assert embedded["labels"] == meta["labels"] and embedded["input"] == meta["input"]
    assert meta["input"]["shape"] == [1, 100, 13]


@pytest.mark.slow
def test_model_ships_without_the_strings_no_interpreter_reads(smoke_build: Path) -> None:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(
        bytearray((smoke_build / "model_int8.tflite").read_bytes()))
    assert all(not t.name for g in model.subgraphs for t in g.tensors)
    assert not model.signatureDefs


@pytest.mark.slow
def test_tflm_scores_do_not_depend_on_the_previous_clip(smoke_build: Path) -> None:
    meta = load_meta(smoke_build)
    x = device_input(load_split(smoke_build / "features" / "test.npz")["x"][:3], meta)
    runner = TflmRunner(smoke_build / "model_int8.tflite")
    first = runner.scores(x[0])
    runner.scores(x[1])
    runner.scores(x[2])
    np.testing.assert_array_equal(runner.scores(x[0]), first)


@pytest.mark.slow
def test_device_input_matches_the_stored_scale(smoke_build: Path) -> None:
    meta = load_meta(smoke_build)
    raw = load_split(smoke_build / "features" / "test.npz")["x"][:2]
    q = device_input(raw, meta)
    assert q.dtype == np.int8 and q.shape == raw.shape
    centred = raw - raw.mean(axis=1, keepdims=True) if meta["norm"]["per_utterance_mean"] else raw
    norm = (centred - np.array(meta["norm"]["mean"])) / np.array(meta["norm"]["std"])
    norm = np.clip(norm, -meta["norm"]["clip"], meta["norm"]["clip"]) if meta["norm"]["clip"] else norm
    back = (q.astype(np.float64) - meta["input"]["zero_point"]) * meta["input"]["scale"]
    inside = np.abs(norm) < 127 * meta["input"]["scale"] * 0.9
    assert np.abs(back - norm)[inside].max() <= meta["input"]["scale"] / 2 + 1e-6


@pytest.mark.slow
def test_generated_firmware_files_agree_with_the_model(smoke_build: Path) -> None:
    meta = load_meta(smoke_build)
    gen = smoke_build / "gen"
    settings = (gen / "model_settings.h").read_text()
    assert f'kModelHash[] = "{meta["model_hash"]}"' in settings
    assert f"kTensorArenaSize = {meta['tensor_arena_size']};" in settings
    assert meta["tensor_arena_size"] % 16 == 0
    assert f"kInputZeroPoint = {meta['input']['zero_point']};" in settings
    data_cc = (gen / "model_data.cc").read_text()
    assert "alignas(16)" in data_cc
    body = re.search(r"\{(.*)\}", data_cc, re.S).group(1)
    assert bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body)) == \
        (smoke_build / "model_int8.tflite").read_bytes()
    selftest = (gen / "selftest_data.cc").read_text()
    assert selftest.count("{") > 8


def test_op_check_reads_the_firmware_and_rejects_a_mismatch() -> None:
    assert firmware_ops() == EXPECTED_OPS
    check_ops(EXPECTED_OPS, firmware_ops())
    with pytest.raises(PipelineError, match=r"needs \['GATHER'\] not registered"):
        check_ops(EXPECTED_OPS + ["GATHER"], firmware_ops())
    with pytest.raises(PipelineError, match=r"registers unused \['SOFTMAX'\]"):
        check_ops([op for op in EXPECTED_OPS if op != "SOFTMAX"], firmware_ops())


def test_resolver_methods_map_to_builtin_op_names() -> None:
    # Names as in TFLM's MicroMutableOpResolver and in the TFLite schema's BuiltinOperator.
    for method, op in (("UnidirectionalSequenceLSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM"), ("ReverseV2", "REVERSE_V2"),
                       ("FullyConnected", "FULLY_CONNECTED"), ("Conv2D", "CONV_2D"),
                       ("DepthwiseConv2D", "DEPTHWISE_CONV_2D"), ("Softmax", "SOFTMAX")):
        assert resolver_op_name(method) == op


@pytest.mark.slow
def test_evaluate_on_fsdd_arranged_as_label_folders(tmp_path: Path, smoke_build: Path, fsdd_dir: Path) -> None:
    """`make evaluate` on real speech: FSDD linked into <label>/ folders (a few clips per digit, 8 kHz)."""
    from data.datasets import load_fsdd

    data = tmp_path / "fsdd_by_label"
    for clip in load_fsdd(fsdd_dir):
        if clip.path.stem.endswith(("_0", "_1")):
            (data / clip.label).mkdir(parents=True, exist_ok=True)
            (data / clip.label / clip.path.name).symlink_to(clip.path)
    out = tmp_path / "fsdd.json"
    run_stage("host.evaluate", "--data", str(data), "--out", str(out), "--build", str(smoke_build))
    m = json.loads(out.read_text())
    assert m["n_clips"] == 80 and {"float", "int8", "tflm", "agreement"} <= set(m)
    assert out.with_suffix(".md").exists()
