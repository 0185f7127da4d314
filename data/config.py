"""The one configuration file (``config.toml``) and the project exception."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = REPO_ROOT / "config.toml"


class PipelineError(Exception):
    """An expected failure (bad input, missing artifact): printed as one line, never as a traceback."""


def load_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    """Read ``config.toml``.

    Parameters
    ----------
    path : Path
        The TOML file; the repository's ``config.toml`` by default.

    Returns
    -------
    dict
        Sections ``features``, ``dataset``, ``synth``, ``model``, ``train``, ``quantize``.
    """
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PipelineError(f"{path}: cannot read the configuration ({e})") from None


def run_main(main: Any) -> None:
    """Run an entry point, turning a ``PipelineError`` into one line on stderr and exit status 2."""
    import sys

    try:
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
