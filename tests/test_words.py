"""A vocabulary from text (make WORDS=..., data/words.py): refusals, confusable negatives, the data stage, and a
smoke model of three words through the emulated firmware."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import IN_CI, run_stage
from data.config import PipelineError, load_config
from data.datasets import load_split
from data.features import FeatureParams
from data.nothing import SILENCE, UNKNOWN
from data.words import (_dictionary, _phones, check_fit, check_words, confusables, label_of, other_words, parse_words,
                        plan)
from data.synth import make_speakers
from experiments.words import HALVES, decide, half_of, keyword_metrics

SMOKE_WORDS = "yes,no,turn on"


def test_words_and_phrases_become_labels() -> None:
    assert parse_words("Yes  no UP") == ["yes", "no", "up"]
    assert parse_words("turn on, turn  off ,stop") == ["turn on", "turn off", "stop"]
    assert [label_of(w) for w in ("turn on", "don't", "follow-up")] == ["turn_on", "dont", "follow-up"]


@pytest.mark.parametrize("words, reason", [
    ("yes 7", "'7': the synthesizers cannot say it"),
    ("héllo", "'héllo': the synthesizers cannot say it"),
    ("yes yes", "named twice"),
    (" ".join("w" + "a" * i for i in range(1, 32)), "at most 30"),
    ("", "WORDS is empty"),
])
def test_words_that_cannot_be_trained_are_refused_in_one_line(words: str, reason: str) -> None:
    with pytest.raises(PipelineError, match=reason) as e:
        check_words(parse_words(words))
    assert "\n" not in str(e.value)


def test_a_phrase_longer_than_the_window_is_refused(tmp_path: Path) -> None:
    params = FeatureParams.from_config(load_config())
    check_fit(["stop"], params, tmp_path)
    with pytest.raises(PipelineError, match="longer than the model's 1 s window"):
        check_fit(["please turn off the lights in the kitchen"], params, tmp_path)


def test_confusables_are_one_phoneme_away_and_never_a_target() -> None:
    words = ["yes", "stop", "go", "no", "off"]
    near = confusables(words, 50, seed=1)
    pron = _dictionary()
    targets = {_phones(p) for w in words for p in pron[w]}
    assert all(20 < len(near[w]) <= 50 for w in words)
    for word, found in near.items():
        assert not set(found) & set(words)
        mine = {_phones(p) for p in pron[word]}
        for entry in found:
            phones = {_phones(p) for p in pron[entry]}
            assert not phones & targets, entry  # never a homophone of a target
            assert any(abs(len(a) - len(b)) <= 1 for a in phones for b in mine), entry
    # inflections and words containing a target, and an accent's vowel (cot/caught) are left out
    assert not {"stops", "stopped", "ago", "goes"} & set(near["stop"] + near["go"])
    assert "staup" not in near["stop"]  # S T AO P: "stop" with the other open-o vowel
    assert confusables(words, 50, seed=1) == near and confusables(words, 50, seed=2) != near


def test_generic_unknown_words_drop_targets_and_their_homophones() -> None:
    assert other_words(["write", "light", "hello", "yes"], ["right", "yes"]) == ["light", "hello"]


def test_unknown_takes_mix_confusables_and_other_words_in_the_given_share() -> None:
    speakers = make_speakers(40, seed=3)
    jobs = plan(["yes", "no"], speakers, 2, ["hello", "water"], {"yes": ["yet"], "no": ["know-not"]}, 3, 0.5, 7)
    targets = [j for j in jobs if j.label != UNKNOWN]
    unknown = [j for j in jobs if j.label == UNKNOWN]
    assert len(targets) == 40 * 2 * 2 and len(unknown) == 40 * 3
    share = np.mean([j.text in ("yet", "know-not") for j in unknown])
    assert 0.35 < share < 0.65
    assert len({(j.speaker, j.text) for j in unknown}) == len(unknown)  # one take per word: unique clips
    only = plan(["yes", "no"], speakers, 2, ["hello"], {"yes": ["yet"]}, 5, 0.0, 7)
    assert [j.text for j in only if j.label == UNKNOWN] == ["hello"] * 40


def test_takes_are_the_same_with_any_number_of_synthesizer_workers(tmp_path: Path) -> None:
    from data.words import Job, synthesize

    speakers = make_speakers(3, 5) + make_speakers(2, 5, "flite")
    jobs = [Job(s, w, t, w) for s in speakers for w in ("yes", "stop") for t in range(2)]
    one = synthesize(tmp_path / "one", jobs, seed=5, workers=1)
    three = synthesize(tmp_path / "three", jobs, seed=5, workers=3)
    assert [c.path.relative_to(tmp_path / "one") for c in one] == [c.path.relative_to(tmp_path / "three")
                                                                   for c in three]
    assert all(a.path.read_bytes() == b.path.read_bytes() for a, b in zip(one, three))


def test_room_takes_reverberate_keep_the_level_and_replace_the_given_share(tmp_path: Path) -> None:
    import soundfile as sf

    from data.datasets import Clip
    from data.synth import write_wav
    from data.words import in_rooms, room_take

    rng = np.random.default_rng(0)
    burst = np.zeros(8000)
    burst[1000:1400] = np.clip(rng.standard_normal(400) * 0.1, -0.5, 0.5)  # a click-like burst, then silence: the tail shows
    dry = tmp_path / "dry" / "yes"
    dry.mkdir(parents=True)
    write_wav(dry / "synth-a0_0.wav", np.round(burst * 32767).astype(np.int16), 16000)
    for i in range(1, 200):
        (dry / f"synth-a{i}_0.wav").write_bytes((dry / "synth-a0_0.wav").read_bytes())
    clips = [Clip(dry / f"synth-a{i}_0.wav", "yes", f"synth-a{i}") for i in range(200)]
    room_take(clips[0].path, tmp_path / "wet.wav", "k")
    room_take(clips[0].path, tmp_path / "again.wav", "k")
    wet, _ = sf.read(str(tmp_path / "wet.wav"))
    assert (tmp_path / "wet.wav").read_bytes() == (tmp_path / "again.wav").read_bytes()
    assert len(wet) > 8000 and np.abs(wet).max() == pytest.approx(np.abs(burst).max(), abs=2e-4)
    assert np.sqrt(np.mean(wet[1600:3000] ** 2)) > 1e-3  # reverberation after the burst has ended
    mixed = in_rooms(clips, tmp_path / "dry", tmp_path / "room", 0.5, seed=1)
    moved = [c for c in mixed if "room" in c.path.parts]
    assert 70 < len(moved) < 130 and all(c.source == c.path.stem.rsplit("_", 1)[0] for c in moved)
    assert in_rooms(clips, tmp_path / "dry", tmp_path / "room", 0.0, seed=1) == clips


def test_keyword_metrics_weigh_nothing_classes_like_one_word() -> None:
    labels = ["yes", "no", SILENCE, UNKNOWN]
    y = np.array([0] * 10 + [1] * 10 + [2] * 4 + [3] * 40)
    pred = y.copy()
    pred[:5] = 1  # half of "yes" taken for "no"
    pred[-4:] = 0  # 4 of 40 unknown words taken for "yes"
    m = keyword_metrics(y, pred, labels)
    assert m["recall"] == {"yes": 0.5, "no": 1.0, SILENCE: 1.0, UNKNOWN: 0.9}
    assert m["top1"] == pytest.approx((5 + 10 + 10 * 1.0 + 10 * 0.9) / 40)
    assert m["false_accept_unknown"] == pytest.approx(0.1) and m["false_accept_noise"] == 0.0


def test_a_speakers_clips_of_any_word_are_in_one_half_of_the_test_folder() -> None:
    speakers = [f"{i:08x}" for i in range(40)]
    halves = {s: half_of(f"{s}_nohash_0.wav") for s in speakers}
    assert set(halves.values()) == set(HALVES)  # both halves hold speakers
    for s in speakers:  # the target folder's name and the _unknown_ folder's word-prefixed copy
        assert half_of(f"{s}_nohash_3.wav") == half_of(f"bed-{s}_nohash_1.wav") == half_of(f"sheila-{s}_nohash_0.wav") \
            == halves[s]
    assert [half_of(f"noise2-cut{k}.wav") for k in range(4)] == list(HALVES) * 2  # noise cuts alternate


def test_the_answer_rule_scores_a_low_confidence_word_as_not_a_word() -> None:
    labels = ["yes", "no", SILENCE, UNKNOWN]
    probs = np.array([[0.6, 0.2, 0.1, 0.1],   # a confident word
                      [0.4, 0.3, 0.1, 0.2],   # a word below 0.5: low confidence, not a word
                      [0.1, 0.2, 0.4, 0.3],   # a nothing-class stays what it is, however low
                      [0.2, 0.2, 0.2, 0.4]])
    assert decide(probs, labels, 0.5).tolist() == [0, 3, 2, 3]
    assert decide(probs, labels, 0.0).tolist() == [0, 0, 2, 3]


@pytest.fixture(scope="module")
def words_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke model of three words (one a phrase) trained from text by the real pipeline."""
    build = tmp_path_factory.mktemp("words_build")
    run_stage("data", "--dataset", "synth", "--words", SMOKE_WORDS, "--smoke", "--build", str(build))
    run_stage("train", "--smoke", "--build", str(build))
    run_stage("quantize", "--smoke", "--build", str(build))
    return build


@pytest.mark.slow
def test_a_vocabulary_trains_with_silence_and_unknown(words_build: Path) -> None:
    train = load_split(words_build / "features" / "train.npz")
    labels = [str(s) for s in train["labels"]]
    assert labels == ["yes", "no", "turn_on", SILENCE, UNKNOWN]
    counts = np.bincount(train["y"], minlength=len(labels))
    assert counts.min() > 0
    # _unknown_ is at most a few words' worth: the targets are not drowned
    assert counts[labels.index(UNKNOWN)] <= 6 * counts[:3].mean()
    meta = json.loads((words_build / "model_meta.json").read_text())
    assert meta["labels"] == labels
    assert "turn_on" in (words_build / "gen" / "model_settings.h").read_text()
    vocabulary = json.loads((words_build / "words" / "vocabulary.json").read_text())
    assert vocabulary["words"] == ["yes", "no", "turn on"] and vocabulary["confusables"]["yes"]


@pytest.mark.slow
def test_evaluate_scores_the_nothing_classes_of_a_folder(words_build: Path, tmp_path: Path) -> None:
    """make evaluate DATA=<folder> on a words model: its _unknown_ and _silence_ folders are scored too."""
    import shutil

    test = load_split(words_build / "features" / "test.npz")
    labels = [str(s) for s in test["labels"]]
    for path, y in zip(test["ids"], test["y"]):
        dest = tmp_path / "data" / labels[int(y)] / f"{Path(str(path)).parent.name}-{Path(str(path)).name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(path), dest)
    out = tmp_path / "eval.json"
    run_stage("host.evaluate", "--data", str(tmp_path / "data"), "--out", str(out), "--build", str(words_build))
    metrics = json.loads(out.read_text())
    assert metrics["n_clips"] == len(test["y"])
    confusion = np.array(metrics["tflm"]["confusion"])
    assert confusion[labels.index(UNKNOWN)].sum() == np.sum(test["y"] == labels.index(UNKNOWN)) > 0
    assert confusion[labels.index(SILENCE)].sum() == np.sum(test["y"] == labels.index(SILENCE)) > 0


def test_unsayable_words_stop_the_data_stage_before_any_synthesis(tmp_path: Path) -> None:
    proc = run_stage("data", "--dataset", "synth", "--words", "yes n0", "--smoke", "--build", str(tmp_path),
                     check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: WORDS: 'n0': the synthesizers cannot say it (English letters, "
                                                "apostrophes and hyphens only; numbers as words, e.g. \"seven\")"]
    assert not (tmp_path / "words").exists() and not (tmp_path / "features").exists()


@pytest.mark.slow
@pytest.mark.firmware
def test_three_word_model_runs_on_the_emulated_firmware(words_build: Path, tmp_path: Path) -> None:
    from host import harness
    from test_emulated_firmware import build_emulated_firmware

    build_emulated_firmware(words_build)
    summary = harness.run("emu", words_build, tmp_path, report=False)
    assert summary["clips"] == len(load_split(words_build / "features" / "test.npz")["y"]) > 0
    assert summary["identical"]["device_tflm"] == 1.0


@pytest.mark.slow
@pytest.mark.firmware
def test_the_listener_reports_only_words_of_the_vocabulary(words_build: Path) -> None:
    """The firmware simulator's listener on a synthesized stream of the vocabulary's held-out takes (targets and
    other words) between noise and silence: it plays the stream, names no nothing-class, and hears what the host
    mirror hears."""
    import shutil

    from experiments.words import listen

    if shutil.which("g++") is None:
        pytest.fail("g++ missing") if IN_CI else pytest.skip("needs g++")
    result = listen(words_build, 12, seed=7)
    assert result["targets"] > 0 and result["firmware_sim"]["words"] == result["targets"]
    assert result["same_detections"]
    for line in result["heard_lines"]:
        assert line.split()[2] in ("yes", "no", "turn_on"), line
