"""PlatformIO extra script (platformio.ini: `extra_scripts = pre:tools/pio_sources.py`): the environment
``<board>_<engine>`` compiles IMAGE_<board>_<engine> of firmware/sources.mk, with the flags the offline check gives
the sketch (arduino_recipe.py): the source list and the flags are not written a second time in platformio.ini.

Runs inside PlatformIO's SCons before the platform's build script: it replaces SRC_FILTER (build_src_filter) and
SRC_BUILD_FLAGS (build_src_flags) of the project's own sources; the mbed core and libraries keep theirs. The TFLM
environments find the library through lib_deps (a symlink:// folder, which also gives TFLM's include paths here).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

LIB_PREFIX = "symlink://"


def configure(env: Any, project: Path) -> None:
    """Sets SRC_FILTER and SRC_BUILD_FLAGS of ``env`` (PlatformIO's construction environment) for its PIOENV."""
    sys.path.insert(0, str(project / "tools"))
    import arduino_recipe
    import sources

    target, _, engine = env["PIOENV"].rpartition("_")
    if target not in sources.TARGETS or engine not in sources.ENGINES or not target.startswith("nano33ble"):
        sys.stderr.write(f"error: platformio.ini: environment {env['PIOENV']!r} is not <board>_<engine> "
                         f"(board nano33ble or nano33ble_sense, engine {' or '.join(sources.ENGINES)})\n")
        env.Exit(1)
    files = sources.image(target, engine)
    env.Replace(SRC_FILTER=["-<*>"] + [f"+<{f.removeprefix('src/')}>" for f in files])
    libs = [d for d in env.GetProjectOption("lib_deps", []) if d.startswith(LIB_PREFIX)]
    lib = (project / libs[0][len(LIB_PREFIX):]).resolve() if libs else None
    if (engine == "tflm") != (lib is not None):
        sys.stderr.write(f"error: platformio.ini: [env:{env['PIOENV']}] needs lib_deps = {LIB_PREFIX}<TFLM "
                         "library> exactly when its engine is tflm\n")
        env.Exit(1)
    # The offline check's flags for a file of its sketch (a folder whose src/ is the include root): here firmware/.
    env.Replace(SRC_BUILD_FLAGS=arduino_recipe.extra_flags(project / "src" / "app" / "app.cpp", lib, project))


# PlatformIO runs this file through SCons, which provides Import() and the construction environment.
if "Import" in globals():
    Import("env")  # type: ignore[name-defined]  # noqa: F821
    configure(env, Path(env.subst("$PROJECT_DIR")))  # type: ignore[name-defined]  # noqa: F821
