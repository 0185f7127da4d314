"""``make bench``: measure the pipeline's speed and size and write ``build/bench.json`` (never asserted in tests).

    python -m experiments.bench [--smoke]
    python -m experiments.bench --scale 5000 20000 40000     (make bench-scale: the "scale" entry only)

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
from experiments.frontend import STREAM_CLIPS, measure_cost, measure_fidelity, measure_streaming
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
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env)
    if proc.returncode:  # the stage said why in its own line above
        raise PipelineError(f"python -m {module} {' '.join(args)} failed (exit status {proc.returncode})")
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


# make bench-scale: the sizes measured, and the full datasets its growth is extrapolated to (clips of the ten digits
# and of all 35 words of Speech Commands v0.02).
SCALE_SIZES = (5000, 20000, 40000)
FULL_SPEECH_COMMANDS = {"speech_commands digits": 38_546, "speech_commands all 35 words": 105_829}
# Seconds between two samples of a stage's memory (the resident memory of the stage and all its workers).
RSS_SAMPLE_S = 0.25


def tree_usage(pid: int) -> tuple[int, dict[int, float]]:
    """Resident memory (bytes) of process ``pid`` and all its descendants, and the CPU seconds (user + system) each
    of them has used so far (Linux /proc; processes that cannot be read count nothing). Pages the workers share
    with their parent count once per process: the memory is an upper bound."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    rss, cpu, todo = 0, {}, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[p] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return rss, cpu


def measured_stage(module: str, args: list[str]) -> dict[str, float]:
    """Run ``python -m module args``: its wall time, CPU time and peak resident memory, of it and its workers
    together (sampled every ``RSS_SAMPLE_S``), and the 1-minute load average before and after."""
    import threading

    env = os.environ | {"PYTHONPATH": str(REPO_ROOT), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env)
    peak, cpu = [0], {}

    def sample() -> None:
        while proc.poll() is None:
            rss, used = tree_usage(proc.pid)
            peak[0] = max(peak[0], rss)
            cpu.update(used)
            time.sleep(RSS_SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if proc.wait() != 0:
        raise PipelineError(f"python -m {module} {' '.join(args)} failed (exit status {proc.returncode})")
    seconds = time.perf_counter() - start
    sampler.join()
    return {"seconds": seconds, "cpu_seconds": sum(cpu.values()), "peak_rss_mb": peak[0] / 2 ** 20,
            "load_before": load_before, "load_after": os.getloadavg()[0]}


def disk_mb(folder: Path) -> float:
    """Disk space the files under ``folder`` take (allocated blocks, MiB)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 2 ** 20


def growth_exponent(sizes: list[int], values: list[float]) -> float:
    """``b`` of ``value = a * size ** b`` fitted by least squares on logarithms (1: linear growth)."""
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def measure_scale(build: Path, sizes: list[int]) -> dict[str, Any]:
    """The data stage and training epochs on rehearsal sets of ``sizes`` clips (:mod:`data.rehearsal`), each in a
    fresh build folder (nothing cached), the data stage then once more (everything cached); growth exponents and
    the cost of the full Speech Commands extrapolated from them."""
    from data.datasets import SPEECH_COMMANDS_NOISE_DIR
    from data.rehearsal import rehearse

    root = build / "scale"
    out: dict[str, Any] = {
        "how": "host wall-clock seconds of each stage as a separate process on this machine (its load average "
               "before and after beside every figure); cpu_seconds: user + system time of the stage and its "
               "workers, sampled as the memory is (less sensitive to the load than wall time); peak RSS: the stage and its worker processes together, "
               "sampled every 0.25 s (shared pages counted per process: an upper bound); disk: allocated blocks. "
               "Data stage: python -m data --dataset speech_commands on a rehearsal set (data/rehearsal.py) with "
               "config.toml's augmentation; training: python -m train --smoke (2 epochs), seconds per epoch from "
               "train.json. Extrapolations assume the growth exponent fitted over the sizes holds beyond them.",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "sizes": {}}
    for n in sizes:
        data = root / f"rehearsal-{n}"
        start = time.perf_counter()
        rehearse(n, data)
        b = root / f"build-{n}"
        shutil.rmtree(b, ignore_errors=True)
        args = ["--dataset", "speech_commands", "--data-dir", str(data), "--noise-dir",
                str(data / SPEECH_COMMANDS_NOISE_DIR), "--build", str(b)]
        entry: dict[str, Any] = {"rehearsal_seconds": time.perf_counter() - start,
                                 "rehearsal_disk_mb": disk_mb(data)}
        print(f"scale {n}: data stage")
        entry["data"] = measured_stage("data", args)
        entry["data_cached"] = measured_stage("data", args)
        entry["disk_mb"] = {"features": disk_mb(b / "features"), "cache": disk_mb(b / "cache")}
        dataset = json.loads((b / "features" / "dataset.json").read_text())
        entry["clips"] = {s: v["clips"] for s, v in dataset["splits"].items()} | {
            "augmented": dataset["augmented_copies"]}
        print(f"scale {n}: training")
        entry["train"] = measured_stage("train", ["--smoke", "--build", str(b)])
        train = json.loads((b / "train.json").read_text())
        entry["train"]["seconds_per_epoch"] = train["seconds_per_epoch"]
        entry["train"]["epochs"] = train["seeds"][0]["epochs"]
        out["sizes"][str(n)] = entry
        shutil.rmtree(b / "cache")  # the caches of the largest sizes take gigabytes; the figures are taken
    if len(sizes) > 1:
        figures = {"data_seconds": [out["sizes"][str(n)]["data"]["seconds"] for n in sizes],
                   "data_peak_rss_mb": [out["sizes"][str(n)]["data"]["peak_rss_mb"] for n in sizes],
                   "train_seconds_per_epoch": [out["sizes"][str(n)]["train"]["seconds_per_epoch"] for n in sizes]}
        out["exponent"] = {k: growth_exponent(sizes, v) for k, v in figures.items()}
        largest = sizes[-1]
        out["extrapolated"] = {
            name: {k: v[-1] * (clips / largest) ** out["exponent"][k] for k, v in figures.items()} | {"clips": clips}
            for name, clips in FULL_SPEECH_COMMANDS.items()}
    return out


def main(args: argparse.Namespace) -> dict:
    if args.scale:  # make bench-scale: only the "scale" entry of bench.json changes
        path = args.build / "bench.json"
        out = json.loads(path.read_text()) if path.is_file() else {}
        out["scale"] = measure_scale(args.build, args.scale)
        write_text_atomic(path, json.dumps(out, indent=1, default=float))
        print(json.dumps(out["scale"], indent=1, default=float))
        print(f"wrote {path} (scale)")
        return out
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
    out["frontend"] = {"fidelity": measure_fidelity(bench, SMOKE_FRONTEND_CLIPS if args.smoke else None),
                       "streaming": measure_streaming(bench, SMOKE_FRONTEND_CLIPS if args.smoke else STREAM_CLIPS)}
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
    p.add_argument("--scale", nargs="*", type=int, help=f"only the data and training stages at these numbers of "
                   f"clips of a rehearsal set (none given: {' '.join(map(str, SCALE_SIZES))})")
    p.add_argument("--build", type=Path, default=Path("build"))
    a = p.parse_args(argv)
    if a.scale is not None and not a.scale:
        a.scale = list(SCALE_SIZES)
    return a


if __name__ == "__main__":
    run_main(lambda: main(parse_args()), tensorflow=True)
