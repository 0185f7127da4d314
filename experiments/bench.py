"""``make bench``: measure the pipeline's speed and size and write ``build/bench.json`` (never asserted in tests).

    python -m experiments.bench [--smoke]

Runs every stage from scratch in ``build/bench/`` (a fresh folder, so no cache helps), then measures feature
extraction throughput and harness throughput against the virtual device. Every time here is host wall-clock time on
this machine (``machine`` in the JSON), not board time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.artifacts import write_text_atomic
from data.config import REPO_ROOT, PipelineError, load_config, run_main
from data.datasets import load_folder
from data.features import FeatureParams, extract_file
from host.dut import Dut
from experiments.continuous import measure_continuous
from experiments.emulated import measure_emulated
from experiments.frontend import measure_cost, measure_fidelity
from host.harness import ClipSet, read_results, stream_clips
from host.ports import open_port
from host.runtime import Runtime

# Clips timed for feature-extraction throughput (after a warm-up clip that pays librosa's JIT compilation).
FEATURE_BENCH_CLIPS = 200
# Clips streamed through the virtual device (the goal: 1,000 clips in <= 60 s).
HARNESS_BENCH_CLIPS = 1000
# Clips per set of the front end's fidelity in a smoke bench (all of them otherwise).
SMOKE_FRONTEND_CLIPS = 50
# Continuous recognition: minutes of the long recording (smoke runs: 1) and its seed (experiments/continuous.py).
CONTINUOUS_MINUTES = 10.0
CONTINUOUS_SEED = 7


# The stages of `make train quantize`, in order, with their arguments besides --build.
STAGES = (("data", "data", True), ("train", "train", True), ("quantize", "quantize", True),
          ("evaluate", "host.evaluate", False))


def timed_stage(module: str, args: list[str]) -> float:
    """Run ``python -m module args`` and return its wall time in seconds."""
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env, check=True)
    return time.perf_counter() - start


def feature_throughput(root: Path, params: FeatureParams, n: int) -> float:
    """Clips per second of WAV -> MFCC on synthetic clips, without the cache."""
    clips = load_folder(root)[: n + 1]
    extract_file(clips[0].path, params)
    start = time.perf_counter()
    for c in clips[1:]:
        extract_file(c.path, params)
    return (len(clips) - 1) / (time.perf_counter() - start)


def harness_throughput(n_clips: int, build_dir: Path | str = "build") -> dict[str, Any]:
    """Stream ``n_clips`` test clips (repeated as needed) through the harness loop to the virtual device (host time).

    Measures what the harness does per clip (quantized input, ``LOAD`` chunks, ``INFER``, one JSON line on disk)
    against the virtual device running the int8 model on TFLM; the host-side comparison is not included.

    Parameters
    ----------
    n_clips : int
        Number of clips to stream.
    build_dir : Path or str
        Build directory with ``model_int8.tflite``, ``model_meta.json`` and ``features/test.npz``.

    Returns
    -------
    dict
        ``clips``, ``seconds`` (wall time of the streaming loop), ``clips_per_second``, ``device_us_median``
        (median latency the virtual device reports for one inference).
    """
    build_dir = Path(build_dir)
    rt = Runtime.open(build_dir, warn=False)
    split = rt.test_split()
    rows = np.arange(n_clips) % len(split["y"])
    clips = ClipSet([f"{split['ids'][r]}#{k}" for k, r in enumerate(rows)], split["x"][rows], split["y"][rows],
                    "bench")
    x_int8 = rt.device_input(clips.x_raw)
    with tempfile.TemporaryDirectory() as tmp, open_port("virtual", build_dir) as (link, name):
        dut = Dut(link, expected_model=rt.meta["model_hash"])
        dut.handshake()
        results = Path(tmp) / "results.jsonl"
        start = time.perf_counter()
        stream_clips(dut, clips, x_int8, results, set(), name)
        seconds = time.perf_counter() - start
        _, records = read_results(results)
    return {"clips": n_clips, "seconds": seconds, "clips_per_second": n_clips / seconds,
            "device_us_median": statistics.median(r["us"] for r in records)}


def main(args: argparse.Namespace) -> dict:
    bench = args.build / "bench"
    shutil.rmtree(bench, ignore_errors=True)
    smoke = ["--smoke"] if args.smoke else []
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "smoke": args.smoke,
                 "how": "host wall-clock seconds on this machine; accuracy on the test split's (synthetic) speakers",
                 "seconds": {}}
    for name, module, takes_smoke in STAGES:
        out["seconds"][name] = timed_stage(module, [*(smoke if takes_smoke else []), "--build", str(bench)])
    out["seconds"]["total"] = sum(out["seconds"].values())
    params = FeatureParams.from_config(load_config())
    out["feature_clips_per_second"] = feature_throughput(bench / "synth", params, FEATURE_BENCH_CLIPS)
    train = json.loads((bench / "train.json").read_text())
    metrics = json.loads((bench / "metrics.json").read_text())
    out["train_seconds_per_epoch"] = train["seconds_per_epoch"]
    out["model_bytes"], out["arena_bytes"] = metrics["model_bytes"], metrics["arena_bytes"]
    out["accuracy"] = {k: metrics[k]["accuracy"] for k in ("float", "int8", "tflm")}
    out["agreement"] = metrics["agreement"]
    out["harness"] = harness_throughput(HARNESS_BENCH_CLIPS if not args.smoke else 50, bench)
    # The firmware on the emulated Cortex-M4F, per TFLM configuration (experiments/emulated.py, make bench-emulated).
    try:
        out["emulated"] = measure_emulated(bench)
    except PipelineError as e:  # no ARM toolchain or QEMU on this machine: the rest of the bench still counts
        out["emulated"] = {"error": str(e)}
    # The device's audio front end: features and top-1 against the host's, cost on the emulated Cortex-M4F
    # (experiments/frontend.py).
    out["frontend"] = {"fidelity": measure_fidelity(bench, SMOKE_FRONTEND_CLIPS if args.smoke else None)}
    try:
        out["frontend"]["cost"] = measure_cost(bench)
    except PipelineError as e:
        out["frontend"]["cost"] = {"error": str(e)}
    # Continuous recognition on a long recording, host pipeline and firmware simulator (make continuous).
    out["continuous"] = measure_continuous(bench, 1.0 if args.smoke else CONTINUOUS_MINUTES, CONTINUOUS_SEED)
    write_text_atomic(args.build / "bench.json", json.dumps(out, indent=1, default=float))
    print(json.dumps(out, indent=1, default=float))
    print(f"wrote {args.build / 'bench.json'}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m experiments.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: main(parse_args()), tensorflow=True)
