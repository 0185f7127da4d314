"""The device's audio front end measured (``make bench``, or ``python -m experiments.frontend [--build build]``).

``measure_fidelity``: over the test split and the real speakers of the team's shared recordings (FSDD, Speech
Commands digits, other digits; 8 kHz FSDD resampled to 16 kHz on the host, as the pipeline reads it), every clip's
int8 features two ways: the host's (data/features.py: librosa, the pipeline's own path) and the device's
(firmware/src/frontend through its Python binding, on the 16-bit audio the host would send a device,
:func:`host.frontend.wav_audio`); the fraction of identical int8 values, the largest difference, and the top-1
agreement of the int8 model on TFLM between the two. ``measure_cost``: the front end on the emulated Cortex-M4F
(``fe_cycles=`` of ``HEAR``, guest instructions under QEMU ``-icount shift=0``, averaged over clips) and its RAM
(the linker map's .bss of frontend.o and the audio buffer). ``measure_streaming``: the listener's streaming front end
(``frontend::ComputeStream``: each frame computed once per recording) against the clip path (``frontend::Compute``,
what ``HEAR`` runs) on every 1 s window, 250 ms apart, of recordings made of real clips back to back (the Speech
Commands sample in data/ and the shared sets): how many windows have byte-identical int8 features, and how many
frame spectra a window computed.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data.artifacts import write_text_atomic
from data.config import REPO_ROOT, PipelineError, run_main
from data.datasets import Clip, load_folder, load_fsdd
from data.features import check_speech, clip_window, mfcc, read_audio, to_int16
from data.nothing import is_nothing
from host.frontend import DeviceFrontend, library_for, stream_recording
from host.recognize import RecognitionSettings, window_ends
from host.runtime import Runtime

SHARED = REPO_ROOT.parent / "shared" / "data"
# The real-speaker sets of ../shared/data, by name: how to list their clips.
REAL_SETS = {"fsdd": lambda labels: load_fsdd(SHARED / "fsdd" / "recordings"),
             "speech_commands_digits": lambda labels: load_folder(SHARED / "speech_commands_digits", labels),
             "other_digits": lambda labels: load_folder(SHARED / "other_digits",
                                                        [d.name for d in (SHARED / "other_digits").iterdir()
                                                         if d.is_dir()])}
COST_CLIPS = 4  # clips sent to the emulated firmware for the instruction count (the count varies little)
SAMPLE = REPO_ROOT / "data" / "speech_commands_sample"  # real Speech Commands clips shipped with the repository
STREAM_CLIPS = 300  # clips per recording of measure_streaming (one recording per set)


def word_labels(labels: list[str]) -> list[str]:
    """The labels that are words: a model's nothing classes (``_silence_``, ``_unknown_``) are no folder of a set."""
    return [label for label in labels if not is_nothing(label)]


def compare_clips(rt: Runtime, fe: DeviceFrontend, paths: list[Path], labels: list[int], name: str,
                  limit: int | None = None) -> dict[str, Any]:
    """Host and device int8 features of ``paths`` and the model's top-1 on both; see the module docstring."""
    host, device, kept = [], [], []
    for i, path in enumerate(tqdm(paths[:limit], desc=name, unit="clip", disable=None)):
        try:
            audio = read_audio(Path(path), rt.params.sample_rate)
            check_speech(Path(path), audio, rt.params.sample_rate)
        except PipelineError:
            continue  # the pipeline refuses it too (the datasets' bad clips): nothing to compare
        host.append(mfcc(audio, rt.params))
        device.append(fe.features(to_int16(clip_window(audio, rt.params))))
        kept.append(i)
    x_host = rt.device_input(np.stack(host))
    x_dev = np.stack(device)
    diff = np.abs(x_host.astype(np.int16) - x_dev.astype(np.int16))
    runner = rt.backend("tflm").runner
    top_host = np.array([int(np.argmax(runner.scores(x))) for x in x_host])
    top_dev = np.array([int(np.argmax(runner.scores(x))) for x in x_dev])
    y = np.array(labels)[kept]
    known = y >= 0
    return {"clips": len(kept), "identical_values": float(np.mean(diff == 0)), "max_abs_diff": int(diff.max()),
            "values_off_by_one": int(np.sum(diff == 1)), "identical_clips": float(np.mean((diff == 0).all((1, 2)))),
            "top1_agreement": float(np.mean(top_host == top_dev)),
            "accuracy_host_features": float(np.mean(top_host[known] == y[known])) if known.any() else None,
            "accuracy_device_features": float(np.mean(top_dev[known] == y[known])) if known.any() else None}


def measure_fidelity(build_dir: Path, limit: int | None = None) -> dict[str, Any]:
    """Per set (``test_split`` and each available real set): see :func:`compare_clips`; ``limit`` clips per set."""
    rt = Runtime.open(build_dir, warn=False)
    fe = DeviceFrontend(library_for(build_dir))
    fe.check(rt.meta)
    split = rt.test_split()
    out = {"test_split": compare_clips(rt, fe, [Path(p) for p in split["ids"]], [int(v) for v in split["y"]],
                                       "test split", limit)}
    for name, lister in REAL_SETS.items():
        try:
            clips: list[Clip] = lister(word_labels(rt.labels))
        except PipelineError:
            continue  # not in this workspace
        labels = [rt.labels.index(c.label) if c.label in rt.labels else -1 for c in clips]
        out[name] = compare_clips(rt, fe, [c.path for c in clips], labels, name, limit)
    return out


def compare_streaming(fe: DeviceFrontend, audio: np.ndarray, settings: RecognitionSettings,
                      rate: int) -> dict[str, Any]:
    """Every listener window of one 16-bit recording, streamed and through the clip path; see the module docstring."""
    ends = list(window_ends(len(audio), rate, settings))
    streamed, spectra = stream_recording(fe, audio, ends)
    clip = np.stack([fe.features(audio[end - fe.clip_samples:end]) for end in ends])
    return {"recording_s": round(len(audio) / rate, 1), "windows": len(ends),
            "identical_windows": int((streamed == clip).all(axis=(1, 2)).sum()),
            "spectra_first_window": spectra[0], "spectra_per_window_median": float(np.median(spectra[1:])),
            "spectra_per_window_max": max(spectra[1:])}


def measure_streaming(build_dir: Path, limit: int = STREAM_CLIPS) -> dict[str, Any]:
    """Per set (the Speech Commands sample of data/ and each available real set of ../shared): its first ``limit``
    clips back to back as one recording, :func:`compare_streaming`."""
    rt = Runtime.open(build_dir, warn=False)
    fe = DeviceFrontend(library_for(build_dir))
    fe.check(rt.meta)
    rate = rt.params.sample_rate
    settings = RecognitionSettings.from_config()
    listers = {"speech_commands_sample": lambda labels: load_folder(SAMPLE, labels), **REAL_SETS}
    out = {}
    for name, lister in listers.items():
        try:
            clips: list[Clip] = lister(word_labels(rt.labels))
        except PipelineError:
            continue  # not in this workspace
        audio = []
        for clip in tqdm(clips[:limit], desc=f"{name} (stream)", unit="clip", disable=None):
            try:
                audio.append(to_int16(read_audio(Path(clip.path), rate)))
            except PipelineError:
                continue  # the pipeline refuses it too
        out[name] = compare_streaming(fe, np.concatenate(audio), settings, rate)
    return out


def frontend_ram(image: Path) -> dict[str, int]:
    """Static RAM of the front end in an emulator image, from its linker map: frontend.o's .bss and the audio
    buffer (app.cc's ``g_audio``)."""
    text = (image.parent / "firmware.map").read_text()
    bss = sum(int(size, 16) for size in re.findall(
        r"^ \.bss\.\S+\s*\n?\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+\S*frontend\.cc\.o$", text, re.M))
    audio = re.search(r"^ \.bss\.\S*g_audio\S*\s*\n?\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)", text, re.M)
    return {"frontend_bss_bytes": bss, "audio_buffer_bytes": int(audio.group(1), 16) if audio else 0}


def measure_cost(build_dir: Path) -> dict[str, Any]:
    """The front end on the emulated Cortex-M4F (TFLM with CMSIS-NN, -Os: the board's configuration)."""
    from experiments.emulated import build_image
    from host.dut import Dut
    from host.emulator import DEFAULT_CONFIG, Emulator, read_boot
    from host.frontend import wav_audio
    from host.serial_device import SerialLink

    rt = Runtime.open(build_dir, warn=False)
    image = build_image(build_dir, DEFAULT_CONFIG)
    audio = [wav_audio(Path(p), rt.params) for p in rt.test_split()["ids"][:COST_CLIPS]]
    with Emulator(image) as emu, SerialLink(emu.url) as link:
        read_boot(link, emu)
        dut = Dut(link)
        dut.handshake()
        results = [dut.hear(a)[0] for a in audio]
    return {"configuration": DEFAULT_CONFIG, "clips": len(results),
            "instructions_per_clip": round(float(np.mean([r.fe_cycles for r in results]))),
            "model_instructions_per_clip": round(float(np.mean([r.cycles for r in results]))),
            **frontend_ram(image),
            "how": "fe_cycles= of HEAR: guest instructions under QEMU -icount shift=0 (to the nearest 40), "
                   "not board cycles; RAM from the image's linker map"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.frontend", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="build folder of the model")
    parser.add_argument("-n", type=int, help="at most N clips per set")
    args = parser.parse_args(argv)

    def go() -> None:
        out: dict[str, Any] = {"fidelity": measure_fidelity(args.build, args.n),
                               "streaming": measure_streaming(args.build, args.n or STREAM_CLIPS)}
        try:
            out["cost"] = measure_cost(args.build)
        except PipelineError as e:  # no ARM toolchain or QEMU: the fidelity still counts
            out["cost"] = {"error": str(e)}
        path = args.build / "bench.json"
        bench = json.loads(path.read_text()) if path.is_file() else {}
        bench["frontend"] = out
        write_text_atomic(path, json.dumps(bench, indent=1) + "\n")
        print(json.dumps(out, indent=1))

    run_main(go, tensorflow=True)


if __name__ == "__main__":
    main()
