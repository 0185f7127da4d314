"""Continuous recognition measured on a long recording (``make continuous``; ``make bench`` writes the same under
``continuous``).

    python -m experiments.continuous [--build build] [--minutes 10] [--seed 7] [--no-sim]

Builds ``<build>/continuous/recording.wav`` and its ground truth (:mod:`host.long_recording`: held-out digits
between background noise and silence), then streams it

- through the host pipeline (:func:`host.recognize.stream`: every 250 ms the last second's MFCCs with the model's
  front end, the int8 model on TFLM, the Python mirror of ``RecognizeCommands``), and
- through the firmware simulator (``make firmware-listen-sim``: the mock audio provider plays the WAV into the
  listener's ring, the on-device front end and TFLM on the host), whose ``# heard`` lines are parsed,

and scores both: hits, misses, false alarms and false alarms per hour of audio. Times are host wall-clock seconds.
Writes ``<build>/continuous.json``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from data.artifacts import write_text_atomic
from data.config import REPO_ROOT, PipelineError, run_main
from data.datasets import load_split
from data.features import read_audio
from data.nothing import is_nothing
from host.long_recording import GAP_S, build_recording, word_pool
from host.recognize import RecognitionSettings, parse_heard, score_detections, stream
from host.runtime import Runtime

# Words per minute of recording: a word (about 0.6 s voiced) after a mean gap.
WORDS_PER_MINUTE = int(60 / (0.6 + sum(GAP_S) / 2))
# The longest recording read back (a guard on the WAV header, not a limit of the method).
MAX_RECORDING_S = 4 * 3600.0
# Building the simulator (host TFLM once, cached) and running it on the recording.
SIM_BUILD_TIMEOUT_S = 1800
SIM_RUN_TIMEOUT_S = 1800


def build_simulator(build: Path) -> Path:
    """``make firmware-listen-sim`` for the model of ``build``; the binary's path."""
    # TFLM, the reference engine, runs every model (the native engine gives the same numbers where it runs).
    proc = subprocess.run(["make", "-s", "-j2", "firmware-listen-sim", "ENGINE=tflm", f"FW_MODEL={build}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=SIM_BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()
        # The first error line says why (make's own "Error 2" lines follow it).
        reason = next((ln for ln in lines if ln.startswith("error")), lines[-1])
        raise PipelineError(f"make firmware-listen-sim: {reason}")
    return build / "firmware" / "listen-tflm" / "listen_sim"


def run_simulator(sim: Path, wav: Path) -> tuple[list[str], float]:
    """The simulator's output lines on ``wav`` and its wall time."""
    start = time.perf_counter()
    proc = subprocess.run([str(sim), str(wav)], capture_output=True, text=True, timeout=SIM_RUN_TIMEOUT_S)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise PipelineError(f"{sim} {wav}: exit status {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc.stdout.splitlines(), seconds


def measure_continuous(build: Path, minutes: float, seed: int, sim: bool = True) -> dict[str, Any]:
    """Build the recording for ``build``'s model, stream it, score it (the module docstring)."""
    rt = Runtime.open(build, warn=False)
    settings = RecognitionSettings.from_config()
    split = rt.test_split()
    trained = frozenset(str(s) for s in load_split(build / "features" / "train.npz")["sources"])
    pool = word_pool([str(p) for p in split["ids"]], [rt.labels[int(y)] for y in split["y"]], trained=trained)
    wav = build / "continuous" / "recording.wav"
    truth = build_recording(wav, pool, max(1, int(minutes * WORDS_PER_MINUTE)), rt.params.sample_rate, seed)
    audio = read_audio(wav, rt.params.sample_rate, MAX_RECORDING_S)
    start = time.perf_counter()
    detections = stream(audio, rt, settings)
    out: dict[str, Any] = {
        "how": "a recording built at run time (host/long_recording.py: held-out digits between background noise "
               "and silence), streamed in 1 s windows every 250 ms; a detection is a hit when it names a word within "
               "[onset, offset + 1.5 s]; false alarms per hour of audio; seconds are host wall-clock time",
        "model_labels": rt.labels, "nothing_classes": [lab for lab in rt.labels if is_nothing(lab)],
        "settings": asdict(settings),
        "recording": {"seconds": truth["duration_s"], "words": len(truth["words"]), "seed": seed,
                      "word_sources": len({w["source"] for w in truth["words"]})},
        "host": score_detections(detections, truth["words"], truth["duration_s"])
        | {"seconds": time.perf_counter() - start},
    }
    if sim:
        try:
            lines, seconds = run_simulator(build_simulator(build), wav)
            dev = parse_heard(lines)
            same = {(d.label, d.time_ms) for d in dev} & {(d.label, d.time_ms) for d in detections}
            out["firmware_sim"] = score_detections(dev, truth["words"], truth["duration_s"]) | {
                "seconds": seconds, "same_as_host": len(same), "played_ms": _played_ms(lines)}
        except (PipelineError, subprocess.TimeoutExpired) as e:
            out["firmware_sim"] = {"error": str(e)}
    write_text_atomic(build / "continuous.json", json.dumps(out, indent=1))
    return out


def _played_ms(lines: list[str]) -> int | None:
    for line in lines:
        if line.startswith("# played "):
            return int(line.split()[2])
    return None


def summary(result: dict[str, Any]) -> str:
    rows = [f"{name}: {r['hits']}/{r['words']} words heard, {r['false_alarms']} false alarms "
            f"({r['false_alarms_per_hour']:.1f}/hour)" if "hits" in r else f"{name}: {r['error']}"
            for name, r in ((k, result[k]) for k in ("host", "firmware_sim") if k in result)]
    return f"continuous, {result['recording']['seconds'] / 60:.1f} min of audio: " + "; ".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m experiments.continuous", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", type=Path, default=Path("build"))
    p.add_argument("--minutes", type=float, default=10.0, help="length of the recording")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-sim", action="store_true", help="the host pipeline only, not the firmware simulator")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> dict[str, Any]:
    result = measure_continuous(args.build, args.minutes, args.seed, not args.no_sim)
    print(summary(result))
    print(f"wrote {args.build / 'continuous.json'}")
    return result


if __name__ == "__main__":
    run_main(lambda: main(parse_args()), tensorflow=True)
