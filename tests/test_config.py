"""config.toml overrides (``--set``) used to screen recipe changes."""
from __future__ import annotations

import pytest

from data.config import PipelineError, apply_overrides, load_config


def test_overrides_replace_single_values_of_a_copy() -> None:
    config = load_config()
    mels = config["features"]["num_mels"]
    out = apply_overrides(config, ["features.num_mels=26", "features.fmin=150", "normalization.per_utterance_mean=false",
                                   'dataset.name="fsdd+synth"'])
    assert out["features"]["num_mels"] == 26
    assert out["features"]["fmin"] == 150.0 and isinstance(out["features"]["fmin"], float)
    assert out["normalization"]["per_utterance_mean"] is False
    assert out["dataset"]["name"] == "fsdd+synth"
    assert config["features"]["num_mels"] == mels  # the loaded configuration is untouched


@pytest.mark.parametrize("item, message", [
    ("features.num_mels", "expected section.key=value"),
    ("num_mels=26", "expected section.key=value"),
    ("features.n_mels=26", "no key 'n_mels' in \\[features\\]"),
    ("feature.num_mels=26", "no key 'num_mels' in \\[feature\\]"),
    ("features.num_mels=26.5", "num_mels is a int, got float"),
    ("normalization.per_utterance_mean=1", "per_utterance_mean is a bool, got int"),
    ("dataset.name=synth", "'synth' is not a TOML value"),
])
def test_bad_overrides_name_the_item_and_the_reason(item: str, message: str) -> None:
    with pytest.raises(PipelineError, match=f"--set '{item}': .*{message}"):
        apply_overrides(load_config(), [item])
