"""Datasets, synthetic speech and MFCC features: the first stage of the pipeline."""
