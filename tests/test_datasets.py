"""Loaders and speaker-stable splits."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_stage
from data.config import PipelineError, load_config
from data.datasets import (DIGITS, Clip, assign_splits, load_folder, load_fsdd, load_speech_commands, source_of,
                           split_of)
from data.synth import FLITE_VOICES, Espeak, Flite, Speaker, generate, make_speakers
from test_bad_input import good, one_error_line
from test_contract import snapshot


@pytest.mark.parametrize("name, source", [
    ("3f2a1b_nohash_2.wav", "3f2a1b"),
    ("7_jackson_32.wav", "jackson"),
    ("synth-en-us_m3-r150-p40-g50_1.wav", "synth-en-us_m3-r150-p40-g50"),
    ("synth-flite-awb-r110-p120-g20_0.wav", "synth-flite-awb-r110-p120-g20"),
    ("recording.wav", "recording"),
])
def test_source_of_file_names(name: str, source: str) -> None:
    assert source_of(Path(name)) == source


def test_split_is_stable_when_data_grows() -> None:
    before = {f"spk{i}": split_of(f"spk{i}", 15, 15) for i in range(200)}
    clips = [Clip(Path(f"{s}_{k}.wav"), "x", s) for s in [f"spk{i}" for i in range(400)] for k in range(3)]
    splits = assign_splits(clips, 15, 15)
    after = {c.source: name for name, cs in splits.items() for c in cs}
    assert all(after[s] == before[s] for s in before)
    # takes of one speaker never land in two splits
    assert sum(len({c.source for c in cs}) for cs in splits.values()) == 400
    assert 0.08 < len(splits["test"]) / len(clips) < 0.22


@pytest.mark.parametrize("engine", ["espeak", "flite"])
def test_synthetic_speakers_are_deterministic_and_distinct(engine: str) -> None:
    a, b = make_speakers(30, 7, engine), make_speakers(30, 7, engine)
    assert a == b and len({s.id for s in a}) == 30
    assert make_speakers(30, 8, engine) != a
    assert all(s.engine == engine for s in a)
    # the engine is part of the id, so the two engines' speakers can never share a split unit
    assert not {s.id for s in a} & {s.id for s in make_speakers(30, 7, "flite" if engine == "espeak" else "espeak")}


def test_flite_speaks_every_voice_and_follows_tempo() -> None:
    engine = Flite()
    for voice in FLITE_VOICES:
        samples, rate = engine.say(Speaker(voice, 100, 120, 20, "flite"), "seven")
        assert rate in (8000, 16000) and samples.size > 0.2 * rate, voice
    slow, rate = engine.say(Speaker("awb", 140, 120, 20, "flite"), "seven")
    fast, _ = engine.say(Speaker("awb", 75, 120, 20, "flite"), "seven")
    assert slow.size > 1.4 * fast.size


def test_generated_set_is_cached_until_the_request_changes(tmp_path: Path) -> None:
    def files() -> dict[str, int]:
        return {str(p.relative_to(tmp_path)): p.stat().st_mtime_ns for p in tmp_path.glob("*/*.wav")}

    generate(tmp_path, ["one", "two"], 2, 1, 5, n_flite=1)
    first = files()
    assert len(first) == 2 * 3
    generate(tmp_path, ["one", "two"], 2, 1, 5, n_flite=1)
    assert files() == first  # nothing rewritten: the feature cache (keyed by file mtime) stays valid
    # an interrupted run (no manifest yet, a take missing) resumes to the same bytes
    take = sorted(tmp_path.glob("two/synth-en*.wav"))[0]
    audio = take.read_bytes()
    take.unlink()
    (tmp_path / "manifest.json").unlink()
    generate(tmp_path, ["one", "two"], 2, 1, 5, n_flite=1)
    assert take.read_bytes() == audio and len(files()) == len(first)
    generate(tmp_path, ["one", "two"], 2, 1, 6, n_flite=1)
    assert set(files()) != set(first)  # another seed, other speakers: the old takes are gone


def test_missing_flite_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import data.synth

    monkeypatch.setenv("FLITE", "")
    monkeypatch.setattr(data.synth.shutil, "which", lambda _: None)
    monkeypatch.setattr(data.synth, "LOCAL_FLITE", Path("/nonexistent/flite"))
    with pytest.raises(PipelineError, match="flite not found: .*flite_speakers = 0"):
        Flite()


def test_espeak_speaks_every_configured_voice_variant() -> None:
    from data.synth import BASE_VOICES, VARIANTS, Speaker

    with Espeak() as engine:
        for voice in BASE_VOICES:
            assert engine.say(Speaker(f"{voice}+{VARIANTS[0]}", 150, 50, 50), "seven")[0].size > 1000
        for variant in VARIANTS:
            assert engine.say(Speaker(f"en+{variant}", 150, 50, 50), "seven")[0].size > 1000
        with pytest.raises(PipelineError, match="espeak-ng: unknown voice 'nobody'"):
            engine.say(Speaker("nobody", 150, 50, 50), "seven")


def test_speech_commands_layout_uses_published_lists(tmp_path: Path) -> None:
    root = tmp_path / "sc"
    for word in ("one", "two", "cat"):
        (root / word).mkdir(parents=True)
        for spk in ("aaaa1111", "bbbb2222", "cccc3333"):
            good(root / word / f"{spk}_nohash_0.wav")
    (root / "_background_noise_").mkdir()
    (root / "validation_list.txt").write_text("one/bbbb2222_nohash_0.wav\ntwo/bbbb2222_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("one/cccc3333_nohash_0.wav\ntwo/cccc3333_nohash_0.wav\n")
    clips, official = load_speech_commands(root, ["one", "two"])
    assert {c.label for c in clips} == {"one", "two"} and len(clips) == 6
    splits = assign_splits(clips, 10, 10, official)
    assert {c.source for c in splits["val"]} == {"bbbb2222"}
    assert {c.source for c in splits["test"]} == {"cccc3333"}
    assert {c.source for c in splits["train"]} == {"aaaa1111"}
    # The model's generated "nothing" clips are in no published list: split by the hash of their source.
    extra = [Clip(tmp_path / f"nothing/_silence_/synth-noise-{i}_0.wav", "_silence_", f"synth-noise-{i}")
             for i in range(40)]
    splits = assign_splits(clips + extra, 15, 15, official)
    for c in extra:
        assert c in splits[split_of(c.source, 15, 15)]
    assert {c.source for c in splits["test"] if c.label != "_silence_"} == {"cccc3333"}


def test_speech_commands_missing_label_folder(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    with pytest.raises(PipelineError, match="missing label folders \\['two'\\]"):
        load_speech_commands(tmp_path, ["one", "two"])


def test_fsdd_loader_maps_digits_and_speakers(fsdd_dir: Path) -> None:
    clips = load_fsdd(fsdd_dir)
    assert len(clips) == 2000
    assert {c.source for c in clips} == {"george", "jackson", "lucas", "nicolas"}
    assert {c.label for c in clips} == set(DIGITS)
    seven = [c for c in clips if c.path.name == "7_jackson_32.wav"][0]
    assert (seven.label, seven.source) == ("seven", "jackson")
    counts = np.unique([c.label for c in clips], return_counts=True)[1]
    assert set(counts.tolist()) == {200}


def one_label_sources(labels: dict[str, int]) -> list[Clip]:
    """Two takes of each of ``labels[label]`` sources per label, every source saying one label (a recording, a
    one-word speaker)."""
    return [Clip(Path(f"{lab}{k}_{take}.wav"), lab, f"{lab}{k}") for lab, n in labels.items() for k in range(n)
            for take in range(2)]


def test_one_label_sources_are_split_per_label() -> None:
    """Six sources per label: the hash alone gives label a no val/test source and label b no val source; the
    stratified split gives every split every label, never a source in two splits, the same for any order."""
    clips = one_label_sources({"a": 6, "b": 6})
    by_hash = {(split_of(c.source, 15, 15), c.label) for c in clips}
    assert ("test", "a") not in by_hash and ("val", "b") not in by_hash
    splits = assign_splits(clips, 15, 15)
    for split, cs in splits.items():
        assert {c.label for c in cs} == {"a", "b"}, split
    assert sum(len({c.source for c in cs}) for cs in splits.values()) == 12
    shuffled = assign_splits(clips[::-1], 15, 15)
    assert {s: {c.source for c in cs} for s, cs in shuffled.items()} == {s: {c.source for c in cs}
                                                                         for s, cs in splits.items()}
    # 24 recordings per voice at 15 % / 15 %: four each in val and test, as the percentages say.
    big = assign_splits(one_label_sources({"me": 24, "mom": 24}), 15, 15)
    assert {s: len({c.source for c in cs}) for s, cs in big.items()} == {"train": 32, "val": 8, "test": 8}


def test_sources_with_several_labels_keep_the_hash_split() -> None:
    clips = [Clip(Path(f"s{k}_{lab}.wav"), lab, f"s{k}") for k in range(40) for lab in ("a", "b")]
    splits = assign_splits(clips, 15, 15)
    assert all(split_of(c.source, 15, 15) == s for s, cs in splits.items() for c in cs)


def folder_dataset(root: Path, per_label: int = 12) -> Path:
    """``root/<a|b>/<label><k>.wav``: every file its own source, saying one label."""
    for label, seed in (("a", 0), ("b", 7)):
        (root / label).mkdir(parents=True)
        for k in range(per_label):
            good(root / label / f"{label}{k}.wav", seed + k)
    return root


def break_files(root: Path, split: str, label: str | None = None, keep: int = 0) -> int:
    """Overwrite with garbage the files of ``split`` (of ``label`` only, when given) but ``keep`` of them, as the
    data stage splits the folder; returns how many."""
    ds = load_config()["dataset"]
    clips = [c for c in assign_splits(load_folder(root), ds["val_percent"], ds["test_percent"])[split]
             if label in (None, c.label)]
    for c in clips[keep:]:
        c.path.write_text("not audio")
    return len(clips) - keep


@pytest.mark.slow
@pytest.mark.parametrize("split, label, keep, message", [
    ("test", None, 0, r"the test split of dataset 'folder' has 0 clips after skipping {n} bad files \(the first: "
                      r".*/hostile/[ab]/[ab]\d+\.wav: not a readable WAV file .*\): replace the bad files or add data"),
    ("train", "b", 1, r"label 'b' has 1 training clips in dataset 'folder' after skipping {n} bad files \(the first: "
                      r".*\.wav: not a readable WAV file .*\), at least 2 are needed: add recordings of it"),
])
def test_a_failed_skip_bad_run_leaves_the_build_usable(split: str, label: str | None, keep: int, message: str,
                                                       smoke_build: Path, tmp_path: Path) -> None:
    """`make train DATASET=folder DATA_DIR=<hostile folder> SKIP_BAD=1`: the data stage fails before any epoch,
    in one line naming the split or label, and the earlier model's build still predicts and quantizes."""
    build = tmp_path / "build"
    shutil.copytree(smoke_build, build, symlinks=True, ignore=shutil.ignore_patterns("tensorboard"))
    before = snapshot(build)
    data = folder_dataset(tmp_path / "hostile")
    n = break_files(data, split, label, keep)
    proc = run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--skip-bad", "--build", str(build),
                     check=False)
    assert re.fullmatch(f"error: {message.format(n=n)}", one_error_line(proc))
    assert snapshot(build) == before
    run_stage("host.predict", "--random", "--build", str(build))
    run_stage("quantize", "--smoke", "--build", str(build))
