"""Speaker-independent cross-validation on real speech (``make cv``, ``python -m experiments.cv``).

One study over any set of real-speech folders (``make cv`` alone: the FSDD folder; ``REAL="<folder> ..."``: every
folder, each in its own layout): :mod:`~experiments.cv.folds` builds the clips and decides which real speakers each
fold holds out, :mod:`~experiments.cv.runs` trains, converts and tests the folds of every seed (and the
synthetic-only model, or the learning curve), :mod:`~experiments.cv.report` writes the reports.
"""
