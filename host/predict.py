"""Predict one clip: ``python -m host.predict (--file clip.wav | --random) [--backend float|int8|tflm|device]``.

Prints the answer (the word, "not a word" or "low confidence": :mod:`host.answers`) and the score of every class.
``device`` runs the clip on a board (``--port``, auto-detected when empty, ``virtual`` for the virtual device);
``--random`` picks a clip of the test split.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from data.config import run_main
from data.features import check_audio_file
from host.answers import answers, file_is_tone
from host.runtime import BACKENDS, Runtime


def load_input(rt: Runtime, file: Path | None, seed: int | None) -> tuple[np.ndarray, str, str | None]:
    """Raw MFCCs of the clip to predict, computed with the model's front end.

    Returns
    -------
    x_raw : np.ndarray, shape (frames, coeffs), float32
        Not normalized.
    name : str
        The file or the test clip's id.
    truth : str or None
        The true label of a test clip, ``None`` for a file.
    """
    if file is not None:
        check_audio_file(file)  # the reasons make evaluate gives: a folder, a link loop, not a WAV file, ...
        return rt.features(file), str(file), None
    split = rt.test_split()
    i = random.Random(seed).randrange(len(split["y"]))
    if rt.meta.get("task") == "regression":  # the target value, not a label index
        return split["x"][i], str(split["ids"][i]), f"{float(split['y'][i]):.4g}"
    return split["x"][i], str(split["ids"][i]), str(split["labels"][split["y"][i]])


def predict(rt: Runtime, x_raw: np.ndarray, backend: str, port: str | None = None) -> np.ndarray:
    """Probabilities of one clip (frames, coeffs) on one backend (``device``: on ``port``), shape (num_labels,)."""
    return rt.probabilities(backend, rt.scores(backend, x_raw[None], port))[0]


def predict_recording(rt: Runtime, wav: Path, backend: str, port: str | None = None) -> np.ndarray:
    """Probabilities of a long recording for a model trained on windows (:mod:`data.windows`): the mean of its
    windows' probabilities, shape (num_labels,)."""
    from data.features import check_speech, read_audio
    from data.windows import recording_windows

    audio = read_audio(wav, rt.params.sample_rate)
    check_speech(wav, audio, rt.params.sample_rate)
    windows = recording_windows(audio, rt.params, rt.meta["windows"]["hop_samples"])
    return rt.probabilities(backend, rt.scores(backend, windows, port)).mean(axis=0)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m host.predict``."""
    parser = argparse.ArgumentParser(prog="python -m host.predict", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="WAV file to predict")
    source.add_argument("--random", action="store_true", help="a random clip of the test split")
    parser.add_argument("--seed", type=int, help="seed of --random (default: a different clip each time)")
    parser.add_argument("--backend", choices=BACKENDS, default="tflm", help="model to run (default: tflm)")
    parser.add_argument("--port", default="", help="device backend: port, pyserial URL or 'virtual'")
    parser.add_argument("--build", type=Path, default=Path("build"), help="build directory of the model")
    args = parser.parse_args(argv)

    def go() -> None:
        with Runtime.open(args.build) as rt:
            x_raw, name, truth = load_input(rt, args.file, args.seed)
            if args.file is not None and rt.meta.get("windows"):  # a long recording: the mean of its windows
                scores = predict_recording(rt, args.file, args.backend, args.port or None)
            else:
                scores = predict(rt, x_raw, args.backend, args.port or None)
        if rt.meta.get("task") == "regression":
            print(f"{name}: value {scores[0]:.4g} ({args.backend})" + (f", true value {truth}" if truth else ""))
            return
        # A long recording's windows are its answer; a clip's front end may hear a tone (no word, as on the board).
        tone = args.file is not None and not rt.meta.get("windows") and file_is_tone(args.file, rt.params)
        found = answers(rt, args.backend, scores[None], [tone])[0]
        print(f"{name}: {found} ({args.backend})" + (f", true label {truth}" if truth else ""))
        for label, score in zip(rt.labels, scores):
            print(f"  {label:>12} {score:.3f}")

    run_main(go, tensorflow=True)


if __name__ == "__main__":
    main()
