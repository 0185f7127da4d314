"""The harness end to end against the virtual device running the smoke model, with kills, resume and faults."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host import harness, serial_device
from experiments.bench import harness_throughput
from host.dut import Timeouts
from host.harness import HarnessError
from host.predict import main as predict_main
from host.ports import VirtualDeviceProcess
from quantize.model_io import load_meta

REPO = Path(__file__).resolve().parent.parent
N = 10  # clips per run: enough for several LOAD/INFER rounds, small enough for a fast suite
# Short timeouts keep fault tests fast; correctness never depends on them (a late reply is only a retry).
FAST = Timeouts(hello_s=0.5, handshake_attempts=5, reply_s=0.3, infer_s=1.0, clip_attempts=8)


def clip_ids(results: Path) -> list[str]:
    """Ids of the clip records of a results file, in order (duplicates kept, to be detected)."""
    return [json.loads(line)["clip"]["id"] for line in results.read_text().splitlines()[1:]]


def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True)


def test_virtual_port_end_to_end(smoke_build: Path, tmp_path: Path) -> None:
    summary = harness.run("virtual", smoke_build, tmp_path, n=N)
    assert summary["clips"] == N
    assert summary["identical"]["device_tflm"] == 1.0
    assert summary["agreement"]["device_tflm"] == 1.0
    assert 0.0 <= summary["agreement"]["device_float"] <= 1.0
    assert summary["device"]["accuracy"] == summary["host_tflm"]["accuracy"]
    assert summary["latency"]["us"]["min"] <= summary["latency"]["us"]["median"] <= summary["latency"]["us"]["max"]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert len(clip_ids(tmp_path / "results.jsonl")) == N
    report = (tmp_path / "report.md").read_text()
    assert "| host TFLM (int8) |" in report
    for png in ("confusion_device.png", "scores_device_vs_host.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_killed_device_then_resume_loses_and_repeats_nothing(smoke_build: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serial_device, "REOPEN_ATTEMPTS", 2)
    monkeypatch.setattr(serial_device, "REOPEN_DELAY_S", 0.01)
    link, out = tmp_path / "tty", tmp_path / "out"
    # 1 HELLO + 7 lines per clip: the device dies in the middle of the 4th clip
    with VirtualDeviceProcess(["--build", str(smoke_build), "--link", str(link), "--die-after", "27"]):
        with pytest.raises(HarnessError, match="results kept in .*continue with RESUME=1"):
            harness.run(str(link), smoke_build, out, n=N, timeouts=FAST, report=False)
    first = clip_ids(out / "results.jsonl")
    assert len(first) == 3
    with open(out / "results.jsonl", "a") as f:
        f.write('{"clip": {"id": "half a line from a killed harn')  # a harness killed while writing
    with VirtualDeviceProcess(["--build", str(smoke_build), "--link", str(link)]):
        summary = harness.run(str(link), smoke_build, out, n=N, resume=True, timeouts=FAST, report=False)
    ids = clip_ids(out / "results.jsonl")
    assert ids[:3] == first
    assert len(ids) == len(set(ids)) == N
    assert summary["clips"] == N
    assert summary["identical"]["device_tflm"] == 1.0


def test_resume_refuses_results_of_another_model(smoke_build: Path, tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text(json.dumps({"run": {"model": "deadbeef", "source": "test split"}}) + "\n")
    with pytest.raises(HarnessError, match="run without RESUME"):
        harness.run("virtual", smoke_build, tmp_path, n=N, resume=True)


def test_faults_and_resets_still_give_identical_scores(smoke_build: Path, tmp_path: Path) -> None:
    args = ["--build", str(smoke_build), "--fault-rate", "0.03", "--seed", "7", "--reset-every", "23"]
    with VirtualDeviceProcess(args) as device:
        summary = harness.run(device.port, smoke_build, tmp_path, n=N, timeouts=FAST, report=False)
    assert summary["identical"]["device_tflm"] == 1.0
    assert summary["device"]["retries"] > 0
    assert summary["device"]["resets"] > 0
    ids = clip_ids(tmp_path / "results.jsonl")
    assert len(ids) == len(set(ids)) == N


def test_model_mismatch_is_one_error_line_and_non_zero_exit(smoke_build: Path, tmp_path: Path) -> None:
    with VirtualDeviceProcess(["--backend", "fake"]) as device:
        proc = run_cli("host.harness", "--port", device.port, "--build", str(smoke_build), "--out", str(tmp_path))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {device.port}: ") and "model 0123abcd" in lines[0]


def test_missing_port_is_one_error_line(smoke_build: Path, tmp_path: Path) -> None:
    proc = run_cli("host.harness", "--port", str(tmp_path / "no-such-tty"), "--build", str(smoke_build),
                   "--out", str(tmp_path))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "no-such-tty" in proc.stderr and "Traceback" not in proc.stderr


def test_predict_on_the_virtual_device_matches_tflm(smoke_build: Path, capsys: pytest.CaptureFixture) -> None:
    outputs = {}
    for backend in ("tflm", "device"):
        predict_main(["--random", "--seed", "3", "--backend", backend, "--port", "virtual",
                      "--build", str(smoke_build)])
        outputs[backend] = capsys.readouterr().out.splitlines()
    tflm, device = outputs["tflm"], outputs["device"]
    assert tflm[0].replace("(tflm)", "(device)") == device[0]
    assert tflm[1:] == device[1:]  # the dequantized scores, line by line
    assert len(tflm) == 1 + len(load_meta(smoke_build)["labels"])


def test_bench_function_reports_throughput(smoke_build: Path) -> None:
    result = harness_throughput(5, smoke_build)
    assert result["clips"] == 5
    assert result["clips_per_second"] > 0
