"""Datasets, synthetic speech and MFCC features: the first stage of the pipeline.

Importing it pins the kernels that NumPy and OpenBLAS pick by the CPU when they load: every stage's package imports
it first (``train``, ``quantize``, ``host``, ``experiments``, ``demo``, and the tests' conftest), so a seed gives the
same features, and so the same model, on every x86-64 machine with AVX2."""
import os
import platform
from pathlib import Path

# NumPy's SIMD paths and OpenBLAS's kernels are chosen by the CPU at load, and they round differently (measured: the
# MFCCs of one clip change bytes with NumPy's AVX2 paths off, or with another OpenBLAS kernel; an AVX-512 machine
# picks both differently from an AVX2 one). Capped at AVX2 (OpenBLAS "Haswell"), as training caps oneDNN
# (train/stage.py). Set, not defaulted: a value that a shell left behind must not change the model. OpenBLAS runs a
# forced kernel without checking the CPU, so it is forced only where the CPU has AVX2 (else: illegal instruction);
# other architectures keep their own kernels.
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
NUMPY_PIN = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
OPENBLAS_PIN = {"OPENBLAS_CORETYPE": "Haswell"}
CPUINFO = Path("/proc/cpuinfo")


def has_avx2() -> bool:
    try:
        return any(line.startswith("flags") and " avx2" in line for line in CPUINFO.read_text().splitlines())
    except OSError:  # not Linux: OpenBLAS picks its own kernel
        return False


if X86_64:
    os.environ.update(NUMPY_PIN | (OPENBLAS_PIN if has_avx2() else {}))
