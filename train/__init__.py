"""Training stage: the bidirectional-LSTM classifier on MFCC features."""
import data  # noqa: F401  (first: it pins NumPy's and OpenBLAS's kernels before they load)
