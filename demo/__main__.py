"""Serve the demo page: ``python -m demo [--build build] [--http-port 7860] [--port DEVICE]``.

Record or upload a clip and see its MFCCs and the float, int8, TFLM (and device, with ``--port``) scores side by
side, plus the latest harness report; on 127.0.0.1 only, offline.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from data.config import run_main
from demo.app import DEFAULT_HTTP_PORT, serve


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m demo``."""
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="build directory of the model")
    parser.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT,
                        help=f"HTTP port on 127.0.0.1 (default {DEFAULT_HTTP_PORT})")
    parser.add_argument("--port", default="", help="also run the device backend: port, pyserial URL, 'virtual' or "
                                                   "'emu'")
    args = parser.parse_args(argv)
    run_main(lambda: serve(args.build, args.http_port, args.port or None))


if __name__ == "__main__":
    main()
