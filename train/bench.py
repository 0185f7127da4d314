"""``make bench``: measure the pipeline's speed and size goals and write ``build/bench.json`` (never asserted in tests).

    python -m train.bench [--smoke]

Runs every stage from scratch in ``build/bench/`` (a fresh folder, so no cache helps), then measures feature
extraction throughput, and harness throughput against the virtual device.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


from data.config import REPO_ROOT, load_config, run_main
from data.datasets import load_folder
from data.features import FeatureParams, extract_file

# Clips timed for feature-extraction throughput (after a warm-up clip that pays librosa's JIT compilation).
FEATURE_BENCH_CLIPS = 200
# Clips streamed through the virtual device (the goal: 1,000 clips in <= 60 s).
HARNESS_BENCH_CLIPS = 1000


def timed_stage(module: str, args: list[str]) -> float:
    """Run ``python -m module args`` and return its wall time in seconds."""
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
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


def main(args: argparse.Namespace) -> dict:
    bench = args.build / "bench"
    shutil.rmtree(bench, ignore_errors=True)
    smoke = ["--smoke"] if args.smoke else []
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "smoke": args.smoke,
                 "seconds": {}}
    for stage in ("data", "train", "quantize"):
        out["seconds"][stage] = timed_stage(stage, [*smoke, "--build", str(bench)])
    out["seconds"]["total"] = sum(out["seconds"].values())
    params = FeatureParams.from_config(load_config())
    out["feature_clips_per_second"] = feature_throughput(bench / "synth", params, FEATURE_BENCH_CLIPS)
    train = json.loads((bench / "train.json").read_text())
    metrics = json.loads((bench / "metrics.json").read_text())
    out["train_seconds_per_epoch"] = train["seconds_per_epoch"]
    out["model_bytes"], out["arena_bytes"] = metrics["model_bytes"], metrics["arena_bytes"]
    out["accuracy"] = {k: metrics[k]["accuracy"] for k in ("float", "int8", "tflm")}
    out["agreement"] = metrics["agreement"]
    try:
        from host.bench import harness_throughput
    except ImportError as e:  # the harness is optional for the pipeline's own numbers
        out["harness"] = {"error": f"host harness not available: {e}"}
    else:
        out["harness"] = harness_throughput(HARNESS_BENCH_CLIPS if not args.smoke else 50)
    # The firmware on the emulated Cortex-M4F, per TFLM configuration (host/emu_bench.py, make bench-emulated).
    from data.config import PipelineError
    from host.emu_bench import measure_emulated

    try:
        out["emulated"] = measure_emulated(bench)
    except PipelineError as e:  # no ARM toolchain or QEMU on this machine: the rest of the bench still counts
        out["emulated"] = {"error": str(e)}
    (args.build / "bench.json").write_text(json.dumps(out, indent=1, default=float))
    print(json.dumps(out, indent=1, default=float))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    run_main(lambda: main(parse_args()))
