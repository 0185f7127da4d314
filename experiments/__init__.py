"""Studies on top of the pipeline: cv, bench, continuous recognition, words, non-speech."""
import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)
