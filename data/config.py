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
