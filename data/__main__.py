"""Entry point of the data stage (library: :mod:`data.prepare`).

    python -m data --dataset synth|fsdd|fsdd+synth|folder|folder+synth|speech_commands|audiomnist|audiomnist+synth|
                             real|real+synth|sample+synth|real+sample+synth [--data-dir D] [--fsdd-dir D] [--real D ...]
                   [--holdout SPEAKER ...] [--noise-dir D] [--skip-bad] [--smoke] [--build build]
                   [--targets file,value.csv] [--jobs N] [--words "yes no up down"]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from data.config import load_config, run_main
from data.prepare import DATASETS, DataRequest, prepare
from data.words import parse_words


def parse_args(argv: list[str] | None = None) -> DataRequest:
    p = argparse.ArgumentParser(prog="python -m data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="synth", help=f"one of {', '.join(DATASETS)}")
    p.add_argument("--data-dir", type=Path, help="root of a <label>/*.wav folder, Speech Commands v2 or AudioMNIST")
    p.add_argument("--fsdd-dir", type=Path, default=Path("../shared/data/fsdd"), help="Free Spoken Digit Dataset")
    p.add_argument("--real", nargs="*", type=Path, default=[],
                   help="real-speech folders of a real dataset, any layout: FSDD, Speech Commands, <label>/*.wav")
    p.add_argument("--holdout", nargs="*", default=[], help="sources (speakers) that form the test split")
    p.add_argument("--noise-dir", type=Path, help="folder of background-noise WAVs mixed into training clips")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip bad files (unreadable, links, out-of-bounds headers, silent, not speech) and list them")
    p.add_argument("--targets", type=Path, help="regression: CSV file,value (files relative to --data-dir, else to "
                   "the CSV's folder)")
    p.add_argument("--jobs", type=int, default=0, help="worker processes of the feature extraction (0: every core; "
                   "the features are the same for any number)")
    p.add_argument("--words", help="a vocabulary from text: words separated by spaces, or phrases by commas "
                   "(labels: the words, _silence_, _unknown_; data/words.py); default: config.toml [words] words")
    p.add_argument("--smoke", action="store_true", help="tiny dataset for tests")
    p.add_argument("--build", type=Path, default=Path("build"), help="build folder")
    a = p.parse_args(argv)
    words = parse_words(a.words if a.words is not None else ",".join(map(str, load_config()["words"]["words"])))
    return DataRequest(a.dataset, a.build, a.fsdd_dir, a.data_dir, tuple(a.holdout), a.noise_dir, a.skip_bad, a.smoke,
                       tuple(a.real), targets=a.targets, jobs=a.jobs or None, words=tuple(words))


if __name__ == "__main__":
    run_main(lambda: prepare(parse_args()))
