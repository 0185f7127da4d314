"""The one configuration loader (every section and key checked) and the ``--set`` overrides used to screen recipe
changes."""
from __future__ import annotations

from pathlib import Path

import pytest

from data.config import CONFIG_PATH, SCHEMA, PipelineError, apply_overrides, load_config


def test_the_repository_config_has_exactly_the_schema() -> None:
    config = load_config()
    assert {s: set(v) for s, v in config.items()} == {s: set(v) for s, v in SCHEMA.items()}


@pytest.mark.parametrize("edit, message", [
    (("[model]\n", "[model]\nconv_filters = 16\n"), "unknown key 'conv_filters' in \\[model\\]"),
    (("[dataset]\n", "[dataset]\nname = \"synth\"\n"), "unknown key 'name' in \\[dataset\\]"),
    (("[quantize]\n", "[quantise]\nx = 1\n[quantize]\n"), "unknown section \\[quantise\\]"),
    (("patience = 8\n", ""), "missing key 'patience' in \\[train\\]"),
    (("lstm_units = 24", "lstm_units = \"24\""), "\\[model\\] lstm_units must be a int, got '24'"),
])
def test_bad_config_names_the_file_and_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = CONFIG_PATH.read_text()
    assert edit[0] in text
    bad = tmp_path / "config.toml"
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(PipelineError, match=f"^{bad}: {message}$"):
        load_config(bad)


def test_integers_are_accepted_where_floats_are_expected(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG_PATH.read_text().replace("clip_seconds = 1.0", "clip_seconds = 1"))
    value = load_config(path)["features"]["clip_seconds"]
    assert value == 1.0 and isinstance(value, float)


def test_overrides_replace_single_values_of_a_copy() -> None:
    config = load_config()
    mels = config["features"]["num_mels"]
    out = apply_overrides(config, ["features.num_mels=26", "features.fmin=150", "normalization.per_utterance_mean=false",
                                   'dataset.labels=["yes", "no"]'])
    assert out["features"]["num_mels"] == 26
    assert out["features"]["fmin"] == 150.0 and isinstance(out["features"]["fmin"], float)
    assert out["normalization"]["per_utterance_mean"] is False
    assert out["dataset"]["labels"] == ["yes", "no"]
    assert config["features"]["num_mels"] == mels  # the loaded configuration is untouched


@pytest.mark.parametrize("item, message", [
    ("features.num_mels", "expected section.key=value"),
    ("num_mels=26", "expected section.key=value"),
    ("features.n_mels=26", "no key 'n_mels' in \\[features\\]"),
    ("feature.num_mels=26", "no key 'num_mels' in \\[feature\\]"),
    ("features.num_mels=26.5", "num_mels is a int, got float"),
    ("normalization.per_utterance_mean=1", "per_utterance_mean is a bool, got int"),
    ("dataset.labels=yes", "'yes' is not a TOML value"),
])
def test_bad_overrides_name_the_item_and_the_reason(item: str, message: str) -> None:
    with pytest.raises(PipelineError, match=f"--set '{item}': .*{message}"):
        apply_overrides(load_config(), [item])
