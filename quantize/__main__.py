"""Entry point of the quantize stage (library: :mod:`quantize.build`).

    python -m quantize [--smoke] [--build build]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from data.config import run_main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m quantize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="skip the collapse check (tiny undertrained models)")
    p.add_argument("--build", type=Path, default=Path("build"))
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()

    def go() -> None:
        from quantize.build import run

        run(args.build, args.smoke)

    run_main(go, tensorflow=True)
