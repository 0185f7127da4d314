"""The native engine against TFLM + CMSIS-NN on the models of several training seeds (``make bench-native-seeds``).

    python -m experiments.native_seeds [--seeds 1234 1235 1236] [--build build]

The generated engine's instructions depend on the model (rounding shifts, a nonzero recurrent bias, ...), TFLM's
barely: one model's ratio proves little. For every seed this trains the configured recipe with ``[train] seed``
set to it, on the features of ``<build>`` (``make train`` first), and quantizes it, in
``<build>/native_seeds/s<seed>`` (kept: a second run measures again without training; the configured seed's
product model in ``<build>`` is used as it is; the native engine is generated again from each model by this
checkout). Then it measures each model on the emulated Cortex-M4F
(experiments/emulated.py: the firmware's counter around ``Invoke()`` under QEMU ``-icount shift=0``, i.e.
instructions, not cycles) with the native engine and with TFLM + CMSIS-NN, both at -O2 and -Os.

The result goes into ``<build>/bench.json`` under ``native_seeds`` (other keys kept): per seed the instructions
per configuration and ``ratio_O2`` / ``ratio_Os`` (TFLM / native), and the min and max of each ratio over the
seeds; ``<build>/bench_native_seeds.md`` has the table.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from data.artifacts import INT8_FILE, write_text_atomic
from data.config import CONFIG_PATH, REPO_ROOT, PipelineError, load_config, run_main
from experiments.emulated import build_image, measure_image
from quantize.native import write_native

DEFAULT_SEEDS = (1234, 1235, 1236)
CONFIGS = ("native-O2", "cmsis-O2", "native-Os", "cmsis-Os")
STAGE_TIMEOUT_S = 3600  # one training of the default recipe on a loaded 2-core machine takes ~10 minutes
_TRAIN_SEED = re.compile(r"^(seed\s*=\s*)\d+", re.M)


def seed_config(seed: int, folder: Path) -> Path:
    """The active configuration file with ``[train] seed`` = ``seed``, written into ``folder``."""
    text = CONFIG_PATH.read_text()
    start = text.index("\n[train]") if "\n[train]" in text else -1
    end = text.find("\n[", start + 1)
    section = text[start:end if end >= 0 else len(text)]
    if start < 0 or not _TRAIN_SEED.search(section):
        raise PipelineError(f"{CONFIG_PATH}: no [train] seed to set")
    path = folder / "config.toml"
    path.write_text(text[:start] + _TRAIN_SEED.sub(rf"\g<1>{seed}", section, count=1) + text[start + len(section):])
    if load_config(path)["train"]["seed"] != seed:
        raise PipelineError(f"{path}: [train] seed is not {seed}")
    return path


def seed_model(build: Path, seed: int) -> Path:
    """The folder with the model of ``seed`` (trained and quantized there unless it already is)."""
    if seed == load_config()["train"]["seed"] and (build / INT8_FILE).is_file():
        return build
    folder = build / "native_seeds" / f"s{seed}"
    if (folder / INT8_FILE).is_file() and (folder / "gen" / "native_model.cc").is_file():
        return folder
    if not (build / "features" / "train.npz").is_file():
        raise PipelineError(f"{build / 'features'}: no features; run `make train` first")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "features", ignore_errors=True)
    shutil.copytree(build / "features", folder / "features")
    env = dict(os.environ, PIPELINE_CONFIG=str(seed_config(seed, folder)))
    for stage in ("train", "quantize"):
        print(f"seed {seed}: {stage}", flush=True)
        proc = subprocess.run([sys.executable, "-m", stage, "--build", str(folder)], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=STAGE_TIMEOUT_S)
        if proc.returncode != 0:
            raise PipelineError(f"seed {seed}: python -m {stage} failed: {(proc.stderr or proc.stdout)[-500:]}")
    return folder


def measure_seeds(build: Path, seeds: list[int]) -> dict[str, Any]:
    """Instructions per inference of every seed's model per configuration, the TFLM / native ratios and their
    range over the seeds."""
    per_seed: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        folder = seed_model(build, seed)
        # The engine as this checkout generates it (a kept model may have been quantized by an older one).
        write_native(folder / "gen", (folder / INT8_FILE).read_bytes(), str(folder / INT8_FILE))
        counts = {}
        for config in CONFIGS:
            counts[config] = measure_image(build_image(folder, config))["instructions_per_inference"]
            print(f"seed {seed}: {config} {counts[config]:,} instructions", flush=True)
        model_hash = json.loads((folder / "model_meta.json").read_text()).get("model_hash", "")
        per_seed[str(seed)] = {"model_hash": model_hash, "instructions_per_inference": counts,
                               **{f"ratio_{opt}": counts[f"cmsis-{opt}"] / counts[f"native-{opt}"]
                                  for opt in ("O2", "Os")}}
    summary = {f"ratio_{opt}_{end}": fn(r[f"ratio_{opt}"] for r in per_seed.values())
               for opt in ("O2", "Os") for end, fn in (("min", min), ("max", max))}
    return {"how": "QEMU -icount shift=0 instructions per inference (firmware counter around Invoke(), mean over the "
                   "self-test clips); ratio = TFLM + CMSIS-NN / native at the same optimisation level",
            "seeds": per_seed, **summary}


def markdown_table(result: dict[str, Any]) -> str:
    head = ["seed", *CONFIGS, "TFLM / native -O2", "TFLM / native -Os"]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for seed, r in result["seeds"].items():
        counts = r["instructions_per_inference"]
        rows.append("| " + " | ".join([seed, *(f"{counts[c]:,}" for c in CONFIGS), f"{r['ratio_O2']:.2f}",
                                       f"{r['ratio_Os']:.2f}"]) + " |")
    return "\n".join(rows) + (f"\n\n-O2: {result['ratio_O2_min']:.2f}x to {result['ratio_O2_max']:.2f}x; "
                              f"-Os: {result['ratio_Os_min']:.2f}x to {result['ratio_Os_max']:.2f}x.\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.native_seeds", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--build", type=Path, default=Path("build"), help="build folder with features/ (make train)")
    args = parser.parse_args(argv)

    def go() -> None:
        result = measure_seeds(args.build, args.seeds)
        path = args.build / "bench.json"
        bench = json.loads(path.read_text()) if path.is_file() else {}
        bench["native_seeds"] = result
        write_text_atomic(path, json.dumps(bench, indent=1) + "\n")
        table = markdown_table(result)
        (args.build / "bench_native_seeds.md").write_text(f"{result['how']}.\n\n{table}")
        print(table, end="")
        print(f"wrote {path} (native_seeds) and {args.build / 'bench_native_seeds.md'}")

    run_main(go)


if __name__ == "__main__":
    main()
