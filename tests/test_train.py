"""Training is a function of the data, the configuration and the seed: not of what ran before in the process."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import pytest

from data.config import PipelineError, load_config
from train.fit import train_model


@pytest.mark.slow
def test_same_seed_same_model_whatever_trained_before(tiny_splits: tuple[dict, dict]) -> None:
    train, val = tiny_splits
    config = load_config()
    config["model"] = config["model"] | {"lstm_units": 4}
    # two epochs: the augmenter reshuffles between them
    first, _, _ = train_model(train, val, config, 7, 2, None, verbose=0)
    train_model(train, val, config, 8, 2, None, verbose=0)  # another model in between
    again, _, _ = train_model(train, val, config, 7, 2, None, verbose=0)
    other, _, _ = train_model(train, val, config, 8, 2, None, verbose=0)
    w1, w2, w3 = first.get_weights(), again.get_weights(), other.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    # a model stays usable after later trainings (train keeps the first seed's model while training the others)
    np.testing.assert_array_equal(first.predict(val["x"], verbose=0), again.predict(val["x"], verbose=0))
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))  # the seed does matter


def test_label_smoothing_outside_0_1_is_rejected(tiny_splits: tuple[dict, dict]) -> None:
    train, val = tiny_splits
    config = load_config()
    config["train"] = config["train"] | {"label_smoothing": 1.0}
    with pytest.raises(PipelineError, match=r"\[train\]: label_smoothing must be in \[0, 1\), got 1.0"):
        train_model(train, val, config, 7, 1, None, verbose=0)
