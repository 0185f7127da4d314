"""Speaker-independent folds over real speech (``make cv``).

    python -m experiments.cv [--real <folder> ...] [--fsdd-dir D] [--seeds N] [--speakers S ...] [--smoke]
                             [--noise-dir D] [--build build] [--float-only] [--curve] [--set SECTION.KEY=VALUE ...]

The real speakers of the folders (``--real``; without it the FSDD folder ``--fsdd-dir``) are split into folds:
a source with at most ``[cv] real_folds`` speakers gives each its own fold (FSDD's four: leave-one-speaker-out),
a larger one spreads its speakers by hash (``--speakers``: one fold per named speaker). For every seed and fold:
train on the synthetic training speakers plus every other real speaker (with their audio-augmented copies),
early-stop on the synthetic validation speakers, convert to full int8 and evaluate float / int8 (LiteRT) / int8 on
TFLM on every clip of the held-out speakers; then the synthetic-only model of the seed on every real speaker.
Writes ``build/cv.json`` and ``build/cv.md`` after every model (per source, and per speaker held out alone); fold
models stay in ``build/cv/``. ``--float-only`` screens a recipe change faster: the float models alone (no
conversion, no synthetic-only model), into ``build/cv_float.json`` / ``build/cv_float.md``. ``--set`` overrides
single values of ``config.toml`` for the run (recorded in the report). ``--curve`` retrains every fold on nested
subsets of its real training speakers (``build/cv_curve.json`` / ``build/cv_curve.md``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from data.config import positive_int, run_main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m experiments.cv", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--real", nargs="*", type=Path, default=[],
                   help="real-speech folders of any layout (FSDD, Speech Commands, <label>/*.wav); without it: "
                        "--fsdd-dir")
    p.add_argument("--fsdd-dir", type=Path, default=Path("../shared/data/fsdd"), help="the FSDD folder (no --real)")
    p.add_argument("--seeds", type=positive_int, default=1)
    p.add_argument("--speakers", nargs="*", help="hold out only these real speakers, one fold each (default: all)")
    p.add_argument("--noise-dir", type=Path, help="folder of background-noise WAVs mixed into training clips")
    p.add_argument("--smoke", action="store_true", help="tiny data and a couple of epochs, for tests")
    p.add_argument("--float-only", action="store_true",
                   help="screening: train the folds and test the float model only (no int8, no synthetic-only "
                        "model); writes build/cv_float.json and build/cv_float.md")
    p.add_argument("--curve", action="store_true",
                   help="learning curve: retrain every fold on nested subsets of its real training speakers; writes "
                        "build/cv_curve.json and build/cv_curve.md")
    p.add_argument("--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE",
                   help="override config.toml values for this run (TOML values, e.g. features.num_mels=26)")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    def go() -> None:
        from experiments.cv.runs import study

        study(parse_args())

    run_main(go, tensorflow=True)
