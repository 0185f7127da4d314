"""Cost of the firmware on the emulated Cortex-M4F, per TFLM configuration (``make bench-emulated``).

    python -m experiments.emulated [--build build]

``measure_emulated(build_dir)`` builds the image of ``build_dir``'s model for every configuration (TFLM with reference
and CMSIS-NN kernels, the native engine (``ENGINE=native``, when the model has one), each at -Os and -O2; ``make
firmware-emu``, TFLM cached) and measures, per configuration:

- ``instructions_per_inference``: the firmware's own counter around ``Invoke()`` (``cycles=`` of ``INFER``), which
  under QEMU ``-icount shift=0`` counts guest instructions (platform_mps2.cc: 40 per 25 MHz SysTick tick, so to
  the nearest 40), averaged over the model's self-test clips sent with ``LOAD``/``INFER``;
- ``flash_bytes``, ``static_ram_bytes``: ``arm-none-eabi-size`` (text + data, data + bss);
- ``flash_by_origin``, ``ram_by_origin``: the linker map (firmware/tools/map_report.py; the rest of the totals is
  alignment padding);
- ``stack_bytes``: the stack high-water mark after boot (painted stack, ``# stack used=…`` boot line), boot being
  the model check plus one inference per self-test clip;
- ``arena_used_bytes``: ``arena=`` of ``HELLO`` (TFLM's ``arena_used_bytes()`` on the target; 0 for the native
  engine, whose buffers are static RAM);
- ``flash_without_selftest_bytes``: ``flash_bytes`` less the self-test clips (the image a product would ship).

``listener-<engine>`` (``native`` when the model has it, ``tflm`` with CMSIS-NN): the continuous listener of the
Sense board (``make firmware-listen-emu``, -Os like the board build) on a real recording, the first clip of each
word of the Speech Commands sample in data/ back to back (10 s: 36 hops after the first window). The image prints
every hop's instructions (firmware/emu/main_listen_emu.cc: all of ``listen::Loop()`` since the previous window: the
mock provider's copying into the ring, the window copy, the streaming front end, the inference, the recognition):

- ``instructions_per_hop_median``, ``instructions_per_hop_max`` over the hops after the first window, and
  ``budget_share``: the max over the ``BUDGET_CYCLES_PER_HOP`` cycles the nRF52840 has per 250 ms hop at 64 MHz
  (instructions are not cycles: a Cortex-M4 with flash wait states takes about 1.2-1.5 cycles per instruction);
- ``first_window_instructions``: the first window, whose every frame is new (once after start, or after the
  listener fell behind);
- the same split into ``frontend_*``, ``inference_*`` and the rest (``bookkeeping_per_hop_max``), and the frame
  spectra the front end computed per hop (``spectra_per_hop_max``).

The result goes into ``<build>/bench.json`` under ``emulated`` (other keys kept) and ``<build>/bench_emulated.md``.
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

import numpy as np

from data.artifacts import write_text_atomic
from data.config import REPO_ROOT, PipelineError, run_main
from host.dut import Dut
from host.emulator import (CONFIGS, DEFAULT_CONFIG, LISTEN_IMAGE, NATIVE_CONFIGS, QEMU, Emulator, image_path,
                           listen_emulated, make_args, read_boot)
from host.serial_device import SerialLink

sys.path.insert(0, str(REPO_ROOT / "firmware" / "tools"))
from map_report import ORIGINS, parse_map  # noqa: E402  (a script folder, not a package)

ARM_SIZE = "arm-none-eabi-size"
BUILD_TIMEOUT_S = 1800  # four TFLM configurations from scratch on a loaded 2-core machine; seconds once cached
# The nRF52840's cycles per listener hop: 64 MHz x 250 ms (firmware/src/listen/recognition_settings.h).
BUDGET_CYCLES_PER_HOP = 16_000_000
# The listener's configuration per engine: the board's (CMSIS-NN kernels for TFLM, -Os as Arduino/PlatformIO build).
LISTEN_CONFIGS = {"native": "native-Os", "tflm": DEFAULT_CONFIG}
LISTEN_SAMPLE = REPO_ROOT / "data" / "speech_commands_sample"  # real Speech Commands clips shipped in the repository


def selftest_clips(generated: Path) -> list[bytes]:
    """The int8 self-test inputs compiled into the image (``selftest_data.cc`` of quantize/codegen.py)."""
    text = (generated / "selftest_data.cc").read_text()
    block = text.split("g_selftest_inputs", 1)[1].split("};", 1)[0]
    rows = re.findall(r"\{([-\d,\s]+)\}", block)
    return [np.array([int(v) for v in row.split(",") if v.strip()], np.int8).tobytes() for row in rows]


def build_image(build_dir: Path, config: str, listener: bool = False) -> Path:
    """``make firmware-emu`` for ``config`` (``<kernels>-<opt>``, ``native-<opt>``) of ``build_dir``'s model; with
    ``listener``, ``make firmware-listen-emu`` (the listener's image, next to that configuration's firmware)."""
    image = image_path(build_dir, config)
    image = image.with_name(LISTEN_IMAGE) if listener else image
    target = "firmware-listen-emu" if listener else "firmware-emu"
    cmd = ["make", "-s", "-j2", target, *make_args(config), f"FW_MODEL={build_dir.resolve()}"]
    # A fresh make: a BUILD=… of an outer `make bench` must not reach the firmware build's variables.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise PipelineError(f"{image}: make {target} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return image


def measure_image(image: Path) -> dict[str, Any]:
    """Run one image on QEMU and read its size; see the module docstring for each figure."""
    clips = selftest_clips(image.parents[2] / "gen" / "generated")  # <FW_MODEL>/firmware/gen: FW_GEN_INC
    with Emulator(image) as emu, SerialLink(emu.url) as link:
        boot = read_boot(link, emu)
        dut = Dut(link)
        info = dut.handshake()
        instructions = [dut.infer(clip)[0].cycles for clip in clips]
    text, data, bss = (int(v) for v in subprocess.run(
        [ARM_SIZE, str(image)], capture_output=True, text=True, check=True).stdout.splitlines()[1].split()[:3])
    origins = parse_map((image.parent / "firmware.map").read_text())
    return {"instructions_per_inference": round(float(np.mean(instructions))),
            "flash_bytes": text + data,
            "flash_without_selftest_bytes": text + data - origins["flash"]["selftest_clips"],
            "static_ram_bytes": data + bss, "stack_bytes": boot.stack_used,
            "arena_used_bytes": info.arena, "flash_by_origin": origins["flash"], "ram_by_origin": origins["ram"],
            "selftest": f"{boot.selftest[0]}/{boot.selftest[1]}", "kernels": boot.kernels, "opt": boot.opt,
            "engine": info.engine,
            "clips_averaged": len(clips)}


def listener_recording(out: Path) -> Path:
    """``out``: the first clip of every word of the Speech Commands sample, back to back (16 kHz 16-bit WAV)."""
    from data.features import read_audio, to_int16
    from data.synth import write_wav

    words = sorted(d for d in LISTEN_SAMPLE.iterdir() if d.is_dir() and not d.name.startswith("_"))
    audio = np.concatenate([to_int16(read_audio(min(d.glob("*.wav")), 16000)) for d in words])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, audio, 16000)
    return out


def measure_listener(image: Path, wav: Path) -> dict[str, Any]:
    """The listener ``image`` on ``wav``: instructions per hop; see the module docstring."""
    run = listen_emulated(image, wav)
    if len(run.hops) < 2:
        raise PipelineError(f"{wav}: too short for the listener ({len(run.hops)} windows)")
    hops = run.hops[1:]
    total = [h.instructions for h in hops]
    return {"instructions_per_hop_median": round(float(np.median(total))), "instructions_per_hop_max": max(total),
            "budget_share": round(max(total) / BUDGET_CYCLES_PER_HOP, 4),
            "first_window_instructions": run.hops[0].instructions,
            "frontend_per_hop_median": round(float(np.median([h.frontend for h in hops]))),
            "frontend_per_hop_max": max(h.frontend for h in hops),
            "inference_per_hop_median": round(float(np.median([h.inference for h in hops]))),
            "inference_per_hop_max": max(h.inference for h in hops),
            "bookkeeping_per_hop_max": max(h.instructions - h.frontend - h.inference for h in hops),
            "spectra_per_hop_max": max(h.spectra for h in hops), "hops": len(hops),
            "heard": [line for line in run.lines if line.startswith("# heard")],
            "how": f"guest instructions under QEMU -icount shift=0 (to the nearest 40) per 250 ms hop, not board "
                   f"cycles; budget {BUDGET_CYCLES_PER_HOP:,} cycles (64 MHz x 250 ms)"}


def measure_listeners(build_dir: Path) -> dict[str, dict[str, Any]]:
    """``{"listener-native": …, "listener-tflm": …}`` (native when the quantize stage generated it)."""
    wav = listener_recording(build_dir / "listen_bench.wav")
    engines = [e for e in LISTEN_CONFIGS if e != "native" or (build_dir / "gen" / "native_model.cc").is_file()]
    return {f"listener-{engine}": measure_listener(build_image(build_dir, LISTEN_CONFIGS[engine], listener=True), wav)
            for engine in engines}


def measure_emulated(build_dir: Path) -> dict[str, dict[str, Any]]:
    """``{"tflm-ref-Os": {...}, "tflm-ref-O2": …, "tflm-cmsis-Os": …, "tflm-cmsis-O2": …}`` for ``build_dir``, and
    ``native-Os``, ``native-O2`` (the native engine) when the quantize stage generated it."""
    missing = [tool for tool in ("arm-none-eabi-g++", ARM_SIZE, QEMU) if shutil.which(tool) is None]
    if missing:
        raise PipelineError(f"emulated bench needs {', '.join(missing)} (Debian: gcc-arm-none-eabi, qemu-system-arm)")
    if not (build_dir / "gen" / "model_data.cc").is_file():
        raise PipelineError(f"{build_dir / 'gen'}: no generated model; run `make quantize` first")
    results = {f"tflm-{config}": measure_image(build_image(build_dir, config)) for config in CONFIGS}
    if (build_dir / "gen" / "native_model.cc").is_file():
        results |= {config: measure_image(build_image(build_dir, config)) for config in NATIVE_CONFIGS}
    return results | measure_listeners(build_dir)


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per configuration: instructions, flash, RAM, stack, arena, then flash by origin (the origins an
    emulated image has: no Arduino core)."""
    images = {name: r for name, r in results.items() if "instructions_per_inference" in r}  # not the listeners
    origins = [o for o in ORIGINS if o != "tensor_arena" and any(r["flash_by_origin"][o] for r in images.values())]
    head = ["configuration", "instructions / inference", "flash B", "flash without self-test B", "static RAM B",
            "stack B", "arena B", *[f"flash {o} B" for o in origins]]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, r in images.items():
        cells = [name, f"{r['instructions_per_inference']:,}", f"{r['flash_bytes']:,}",
                 f"{r['flash_without_selftest_bytes']:,}", f"{r['static_ram_bytes']:,}",
                 f"{r['stack_bytes']:,}", f"{r['arena_used_bytes']:,}",
                 *[f"{r['flash_by_origin'][o]:,}" for o in origins]]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n" + listener_table(results)


def listener_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per listener: instructions per hop (median, max, share of the budget), front end, inference."""
    head = ["listener", "hops", "instructions / hop median", "max", "of 16 M cycles", "front end max",
            "inference max", "rest max", "first window"]
    rows = ["", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, r in results.items():
        if "instructions_per_hop_max" in r:
            rows.append(f"| {name} | {r['hops']} | {r['instructions_per_hop_median']:,} | "
                        f"{r['instructions_per_hop_max']:,} | {r['budget_share']:.1%} | {r['frontend_per_hop_max']:,} | "
                        f"{r['inference_per_hop_max']:,} | {r['bookkeeping_per_hop_max']:,} | "
                        f"{r['first_window_instructions']:,} |")
    return "\n".join(rows) + "\n" if len(rows) > 3 else ""


def write_results(build_dir: Path, results: dict[str, dict[str, Any]]) -> None:
    """Merge ``results`` into ``<build>/bench.json`` under ``emulated`` and write ``bench_emulated.md``."""
    path = build_dir / "bench.json"
    bench = json.loads(path.read_text()) if path.is_file() else {}
    bench["emulated"] = results
    write_text_atomic(path, json.dumps(bench, indent=1) + "\n")
    (build_dir / "bench_emulated.md").write_text(
        "Firmware on QEMU mps2-an386 (Cortex-M4F), `-icount shift=0`; instructions counted by the firmware around "
        "Invoke(), averaged over the self-test clips (experiments/emulated.py).\n\n" + markdown_table(results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.emulated", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="build folder with gen/ (make quantize)")
    args = parser.parse_args(argv)

    def go() -> None:
        results = measure_emulated(args.build)
        write_results(args.build, results)
        print(markdown_table(results), end="")
        print(f"wrote {args.build / 'bench.json'} (emulated) and {args.build / 'bench_emulated.md'}")

    run_main(go)


if __name__ == "__main__":
    main()
