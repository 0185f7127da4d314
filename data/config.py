"""The one configuration file (``config.toml``) and the project exception."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# The configuration file: the repository's, or another one named by PIPELINE_CONFIG (make CONFIG=...).
CONFIG_PATH = Path(os.environ.get("PIPELINE_CONFIG") or REPO_ROOT / "config.toml")


# Every key of config.toml and its type: the loader refuses unknown, missing and mistyped keys in one line.
SCHEMA: dict[str, dict[str, type]] = {
    "features": {"sample_rate": int, "clip_seconds": float, "window_ms": float, "hop_ms": float, "n_fft": int,
                 "num_mels": int, "num_mfcc": int, "fmin": float, "fmax": float, "trim_db": float},
    "normalization": {"per_utterance_mean": bool, "clip": float},
    "dataset": {"labels": list, "val_percent": int, "test_percent": int, "seed": int, "extra_classes": list,
                "unknown_words": list},
    "synth": {"speakers": int, "flite_speakers": int, "takes_per_word": int},
    # A vocabulary from text (make WORDS="...", data/words.py).
    "words": {"words": list, "takes_per_word": int, "unknown_words": list, "unknown_share": float, "confusables_per_word": int,
              "confusable_share": float, "silence_share": float, "kokoro_voices": int, "room_share": float},
    "augment_audio": {"copies": int, "noise_prob": float, "snr_db_min": float, "snr_db_max": float,
                      "gain_db": float, "shift_ms": float, "speed_min": float, "speed_max": float,
                      "pitch_semitones": float, "seed": int},
    "augment": {"time_shift_frames": int, "gain_std": float, "noise_std": float, "time_masks": int,
                "time_mask_frames": int, "coeff_masks": int, "coeff_mask_width": int, "mixup_alpha": float},
    "model": {"lstm_units": int, "dense_units": int, "dropout": float, "task": str, "lstm_layers": int},
    "train": {"epochs": int, "min_updates": int, "smoke_epochs": int, "batch_size": int, "learning_rate": float,
              "label_smoothing": float, "patience": int, "seed": int, "real_oversample": int,
              "real_clips_per_word": int, "lr_schedule": str},
    "cv": {"min_mean_accuracy": float, "min_fold_accuracy": float, "max_model_bytes": int, "max_arena_bytes": int,
           "min_agreement": float, "max_accuracy_drop": float, "real_folds": int,
           "min_speech_commands_accuracy": float},
    "quantize": {"calibration_clips": int, "arena_margin": float, "selftest_clips": int},
    # Long recordings cut into overlapping windows (data/windows.py).
    "windows": {"mode": str, "hop_seconds": float, "auto_min_seconds": float},
    "recognition": {"window_ms": int, "evaluate_every_ms": int, "average_window_ms": int, "minimum_count": int,
                    "threshold": float, "refractory_ms": int},
    # When a clip's answer is a word (data/nothing.py answer()).
    "answer": {"min_confidence": float},
}


class PipelineError(Exception):
    """An expected failure (bad input, missing artifact): printed as one line, never as a traceback."""


def load_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    """Read ``config.toml``.

    Parameters
    ----------
    path : Path
        The TOML file; ``CONFIG_PATH`` by default.

    Returns
    -------
    dict
        Every section of ``SCHEMA``, each with exactly its keys (an integer is accepted where a float is expected
        and becomes a float).
    """
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PipelineError(f"{path}: cannot read the configuration ({e})") from None
    return validate_config(config, path)


def validate_config(config: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """Check sections, keys and value types against ``SCHEMA``; ``path`` names the file in the message."""
    for section in config:
        if section not in SCHEMA:
            raise PipelineError(f"{path}: unknown section [{section}]")
    for section, keys in SCHEMA.items():
        values = config.get(section)
        if not isinstance(values, dict):
            raise PipelineError(f"{path}: missing section [{section}]")
        for key in values:
            if key not in keys:
                raise PipelineError(f"{path}: unknown key {key!r} in [{section}]")
        for key, kind in keys.items():
            if key not in values:
                raise PipelineError(f"{path}: missing key {key!r} in [{section}]")
            value = values[key]
            if kind is float and type(value) is int:
                values[key] = value = float(value)
            if type(value) is not kind:
                raise PipelineError(f"{path}: [{section}] {key} must be a {kind.__name__}, got {value!r}")
    return config


def apply_overrides(config: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """A copy of ``config`` with single values replaced, for screening a recipe change without editing the file.

    Parameters
    ----------
    config : dict
        From :func:`load_config`.
    items : list of str
        ``section.key=value``; ``value`` is a TOML value (``26``, ``150.0``, ``true``, ``"text"``). Only keys that
        exist may be set, to a value of the same type (an integer where a float is expected is fine).

    Returns
    -------
    dict
        The new configuration; ``config`` itself is not changed.
    """
    import copy

    out = copy.deepcopy(config)
    for item in items:
        name, sep, text = item.partition("=")
        section, _, key = name.partition(".")
        if not sep or not key:
            raise PipelineError(f"--set {item!r}: expected section.key=value")
        if key not in out.get(section, {}):
            raise PipelineError(f"--set {item!r}: config.toml has no key {key!r} in [{section}]")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            raise PipelineError(f"--set {item!r}: {text!r} is not a TOML value (strings need quotes)") from None
        old = out[section][key]
        if isinstance(old, float) and type(value) is int:
            value = float(value)
        if type(value) is not type(old):
            raise PipelineError(f"--set {item!r}: [{section}] {key} is a {type(old).__name__}, got "
                                f"{type(value).__name__}")
        out[section][key] = value
    return out


def run_main(main: Any, tensorflow: bool = False) -> None:
    """Run an entry point, turning a ``PipelineError`` into one line on stderr and exit status 2. With
    ``tensorflow``, the model libraries are imported first with their start-up log lines hidden (``V=1`` shows them).
    """
    import sys

    try:
        if tensorflow:
            from data.quiet import import_quietly

            import_quietly()
        main()
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def positive_int(text: str) -> int:
    """argparse type of counts such as ``--seeds``: an integer >= 1."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value
