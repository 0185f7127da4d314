"""Entry point of the training stage (library: :mod:`train.fit` for a classifier, :mod:`train.regression` for
``[model] task = "regression"``).

    python -m train [--seeds N] [--architecture bilstm] [--smoke] [--build build]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from data.config import load_config, positive_int, run_main
from train.model import ARCHITECTURES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=positive_int, default=1,
                   help="train this many seeds; the first is the product model")
    p.add_argument("--architecture", default="bilstm", choices=ARCHITECTURES)
    p.add_argument("--smoke", action="store_true", help="a couple of epochs, for tests")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()

    def go() -> None:
        if load_config()["model"]["task"] == "regression":  # one linear output
            from train.regression import run_regression as run
        else:
            from train.fit import run
        run(args.build, args.seeds, args.architecture, args.smoke, verbose=2 if os.environ.get("V") else 0)

    run_main(go, tensorflow=True)
