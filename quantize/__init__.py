"""Quantize stage: full-int8 TFLite, evaluation three ways, firmware C arrays."""
import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)
