"""Training stage: the bidirectional-LSTM classifier on MFCC features."""
