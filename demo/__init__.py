"""The demo page (`make demo`): a local web front end of host.runtime."""
import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)
