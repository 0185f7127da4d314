"""Datasets, synthetic speech and MFCC features: the first stage of the pipeline.

Importing it pins the kernels that NumPy and OpenBLAS pick by the CPU when they load: every stage's package imports
it first (``train``, ``quantize``, ``host``, ``experiments``, ``demo``), so a seed gives the same features, and so the
same model, on every x86-64 machine."""
import os
import platform

# NumPy's SIMD paths and OpenBLAS's kernels are chosen by the CPU at load, and they round differently (measured: the
# MFCCs of one clip change bytes with NumPy's AVX2 paths off, or with another OpenBLAS kernel; an AVX-512 machine
# picks both differently from an AVX2 one). Capped at AVX2 (OpenBLAS "Haswell"), as training caps oneDNN
# (train/stage.py): AVX2 is what almost every x86-64 machine since 2013 has. Set, not defaulted: a value that a
# shell left behind must not change the model. Other architectures keep their own kernels.
CPU_PINS = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell"}
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.update(CPU_PINS)
