"""Host side of the pipeline: serial protocol, virtual device, harness, predictions."""
import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)
