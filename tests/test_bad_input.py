"""Bad input: every case gets one line naming the file and the reason, or is skipped and listed with --skip-bad."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from conftest import IN_CI, REPO, run_stage
from data.augment_audio import load_noises
from data.config import PipelineError
from data.datasets import SPEECH_COMMANDS_NOISE_DIR, Clip, extract_clips, load_speech_commands
from data.features import (MAX_CHANNELS, MAX_CLIP_SECONDS, MIN_SAMPLE_RATE, STEADY_DB, FeatureParams,
                           band_variation_db, check_speech, read_audio)
from test_features import tone

SR = 16000


def fade(n: int, rate: int) -> np.ndarray:
    """A word-like envelope: 100 ms fades in and out (a steady tone is refused as not speech)."""
    ramp = np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.1 * rate)
    return np.minimum(1.0, ramp).astype(np.float32)


def good(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    word = tone(SR, 0.5, (300.0 + 50 * seed, 1200.0)) * fade(SR // 2, SR)
    sf.write(path, word + 0.01 * rng.standard_normal(SR // 2).astype(np.float32), SR, subtype="PCM_16")


def riff(fmt_tag: int, data: bytes = b"\0" * 64, rate: int = SR, claimed: int | None = None) -> bytes:
    """A WAV header with the given format tag (1 = PCM) and sample rate; ``claimed`` overrides the data size."""
    fmt = struct.pack("<HHIIHH", fmt_tag, 1, rate, 2 * rate, 2, 16)
    size = len(data) if claimed is None else claimed
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body) + size - len(data)) + body


def one_hz(path: Path) -> None:
    """The measured case: 10 KB of samples declared at 1 Hz (once 1.8 GB to resample), here also claiming ~4 GB."""
    noise = np.random.default_rng(0).integers(-3000, 3000, 5000).astype("<i2").tobytes()
    path.write_bytes(riff(1, noise, rate=1, claimed=0xFFFF0000))


def word(seconds: float = 1.0) -> np.ndarray:
    return tone(SR, seconds, (300.0, 1200.0)) * fade(int(SR * seconds), SR)


def symlink(target: str) -> Callable[[Path], None]:
    return lambda p: os.symlink(target, p)


# name -> (how to write it, the reason its line must give)
BAD_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "not_wav.wav": (lambda p: p.write_text("this is not audio\n"), "not a readable WAV file"),
    "empty.wav": (lambda p: p.write_bytes(riff(1, b"")), "empty clip"),
    "zero_bytes.wav": (lambda p: p.write_bytes(b""), "not a readable WAV file"),
    "truncated.wav": (lambda p: p.write_bytes(riff(1)[:30]), "not a readable WAV file"),
    # MPEG layer 3 inside RIFF: libsndfile refuses
    "unsupported.wav": (lambda p: p.write_bytes(riff(0x0055)), "not a readable WAV file"),
    "silence.wav": (lambda p: sf.write(p, np.zeros(8000, np.float32), SR, subtype="PCM_16"), "silent clip"),
    "rate_1hz.wav": (one_hz, "sample rate 1 Hz outside"),
    "too_long.wav": (lambda p: sf.write(p, np.zeros(int(MIN_SAMPLE_RATE * (MAX_CLIP_SECONDS + 1)), np.int16),
                                        MIN_SAMPLE_RATE), f"61.0 s long (at most {MAX_CLIP_SECONDS:g} s)"),
    "many_channels.wav": (lambda p: sf.write(p, np.tile(word()[:, None], MAX_CHANNELS + 1), SR),
                          f"{MAX_CHANNELS + 1} channels"),
    "cancelling_stereo.wav": (lambda p: sf.write(p, np.stack([word(), -word()], axis=1), SR, subtype="PCM_16"),
                              "channels cancel when mixed to mono"),
    "dc_offset.wav": (lambda p: sf.write(p, np.full(SR, 0.3, np.float32), SR, subtype="PCM_16"), "constant signal"),
    "ten_samples.wav": (lambda p: sf.write(p, word()[SR // 2:SR // 2 + 10], SR, subtype="PCM_16"), "too short"),
    "square_wave.wav": (lambda p: sf.write(p, 0.5 * np.sign(np.sin(2 * np.pi * 440 * np.arange(SR) / SR + 0.1)), SR,
                                           subtype="PCM_16"), "steady signal, not speech"),
    "folder.wav": (lambda p: p.mkdir(), "a folder, not a WAV file"),
    "dangling.wav": (symlink("nowhere.wav"), "dangling symbolic link"),
    "loop.wav": (symlink("loop.wav"), "symbolic link loop"),
    "pipe.wav": (os.mkfifo, "not a regular file"),  # opening it would block forever
}


SPEAKERS = 20


def make_dataset(root: Path, bad: str | None) -> Path:
    """Two classes of 20 speakers' clips each (every split gets speakers), plus one bad file in class ``a``."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for speaker in range(SPEAKERS):
            good(root / label / f"s{speaker}_nohash_0.wav", speaker + (7 if label == "b" else 0))
    if bad:
        BAD_FILES[bad][0](root / "a" / bad)
    return root


def one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:") or "Traceback" in ln]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


# Stage runs cost seconds each: the reading cases, then one per new kind of check (header bounds, directory entry,
# sound, speech). Every file's own line is checked through the stage's library path by
# test_bad_entries_through_extract_clips, and every file's listed reason by test_skip_bad_lists_every_bad_file...
ONE_LINE_CASES = ("not_wav.wav", "empty.wav", "zero_bytes.wav", "truncated.wav", "unsupported.wav", "silence.wav",
                  "rate_1hz.wav", "loop.wav", "cancelling_stereo.wav", "square_wave.wav")


@pytest.mark.parametrize("bad", ONE_LINE_CASES)
@pytest.mark.slow
def test_bad_file_gives_one_line_naming_it(tmp_path: Path, bad: str) -> None:
    data = make_dataset(tmp_path / "data", bad)
    proc = run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(tmp_path / "b"),
                     check=False)
    line = one_error_line(proc)
    assert f"{data / 'a' / bad}: " in line and BAD_FILES[bad][1] in line


def test_skip_bad_lists_every_bad_file_and_keeps_the_rest(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", None)
    for name, (write, _) in BAD_FILES.items():
        write(data / "b" / name)
    build = tmp_path / "b"
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(build), "--skip-bad")
    summary = json.loads((build / "features" / "dataset.json").read_text())
    reasons = {Path(s.split(": ")[0]).name: s.split(": ", 1)[1] for s in summary["skipped"]}
    assert sorted(reasons) == sorted(BAD_FILES) and len(summary["skipped"]) == len(BAD_FILES)
    for name, (_, reason) in BAD_FILES.items():
        assert reason in reasons[name], (name, reasons[name])
    assert sum(s["clips"] for s in summary["splits"].values()) == 2 * SPEAKERS


def test_header_bounds_are_checked_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A header asking for 1 Hz (and ~4 GB) or too long a clip is refused from the header alone: nothing is decoded
    or resampled."""
    import librosa

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a file whose header is out of bounds")

    monkeypatch.setattr(sf, "read", never)
    monkeypatch.setattr(librosa, "resample", never)
    for name in ("rate_1hz.wav", "too_long.wav", "many_channels.wav"):
        BAD_FILES[name][0](tmp_path / name)
        with pytest.raises(PipelineError) as e:
            read_audio(tmp_path / name, SR)
        assert str(e.value).startswith(f"{tmp_path / name}: ") and BAD_FILES[name][1] in str(e.value)


def test_noise_recordings_may_be_longer_than_clips(tmp_path: Path) -> None:
    """Background noise is read with its own length bound (Speech Commands' noises are 60-95 s)."""
    noise = 0.1 * np.random.default_rng(0).standard_normal(int(MIN_SAMPLE_RATE * (MAX_CLIP_SECONDS + 1)))
    (tmp_path / "noise").mkdir()
    sf.write(tmp_path / "noise" / "long.wav", noise, MIN_SAMPLE_RATE, subtype="PCM_16")
    with pytest.raises(PipelineError, match="s long"):
        read_audio(tmp_path / "noise" / "long.wav", SR)
    assert load_noises(str(tmp_path / "noise"), SR)[0].shape == (int(SR * (MAX_CLIP_SECONDS + 1)),)


def test_bad_entries_through_extract_clips(tmp_path: Path) -> None:
    """The library path evaluation shares: without skip_bad the first bad file raises, with it each is listed."""
    params = FeatureParams.from_config()
    for name, (write, reason) in BAD_FILES.items():
        write(tmp_path / name)
        clip = Clip(tmp_path / name, "a", name)
        with pytest.raises(PipelineError, match=f"^{tmp_path / name}: "):
            extract_clips([clip], params, tmp_path / "cache", skip_bad=False)
        x, ok, skipped = extract_clips([clip], params, tmp_path / "cache", skip_bad=True)
        assert (len(ok), x.shape[0]) == (0, 0) and len(skipped) == 1 and reason in skipped[0], skipped


def unprivileged() -> list[str]:
    """A command prefix under which file permissions apply: none for a user; for root (CI containers), setpriv
    without the two capabilities that let root read any file."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        if IN_CI:
            pytest.fail("setpriv (util-linux) is needed to test unreadable files as root")
        pytest.skip("running as root without setpriv: root reads every file")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


def run_data_unprivileged(*args: str) -> subprocess.CompletedProcess:
    """The data stage (as :func:`conftest.run_stage`, unchecked) under :func:`unprivileged`."""
    env = os.environ | {"PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([*unprivileged(), sys.executable, "-m", "data", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)


@pytest.mark.parametrize("skip_bad", [False, True])
def test_unreadable_file(tmp_path: Path, skip_bad: bool) -> None:
    data = make_dataset(tmp_path / "data", None)
    locked = data / "a" / "locked.wav"
    good(locked)
    locked.chmod(0)
    build = tmp_path / "b"
    proc = run_data_unprivileged("--dataset", "folder", "--data-dir", str(data), "--build", str(build),
                                 *(["--skip-bad"] if skip_bad else []))
    if skip_bad:
        assert proc.returncode == 0, proc.stderr[-2000:]
        skipped = json.loads((build / "features" / "dataset.json").read_text())["skipped"]
        assert skipped == [f"{locked}: cannot be read (Permission denied)"]
    else:
        assert f"{locked}: cannot be read (Permission denied)" in one_error_line(proc)


def test_unlistable_class_folder(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", None)
    (data / "a").chmod(0)
    try:
        proc = run_data_unprivileged("--dataset", "folder", "--data-dir", str(data), "--build", str(tmp_path / "b"))
    finally:
        (data / "a").chmod(0o755)  # lets pytest remove it
    assert f"{data / 'a'}: cannot list the folder (Permission denied)" in one_error_line(proc)


@pytest.mark.parametrize("name, target, reason", [("c", "nowhere", "dangling symbolic link"),
                                                  ("loop", "loop", "symbolic link loop")])
def test_broken_link_in_place_of_a_label_folder(tmp_path: Path, name: str, target: str, reason: str) -> None:
    """A broken link among the label folders stops even --skip-bad: skipping it would change the label set."""
    data = make_dataset(tmp_path / "data", None)
    (data / name).symlink_to(target)
    line = one_error_line(run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build",
                                    str(tmp_path / "b"), "--skip-bad", check=False))
    assert f"{data / name}: {reason}" in line and "expected a label folder" in line
    with pytest.raises(PipelineError, match=f"^{data / name}: {reason}"):
        load_speech_commands(data, ["a", name])


# Real speech the new checks must never refuse (the team's shared copies; CI has them).
REAL_SPEECH = {"fsdd": "fsdd/recordings/*.wav", "speech_commands_digits": "speech_commands_digits/[!_]*/*.wav",
               "other_digits": "other_digits/*/*.wav"}


def test_no_real_speech_clip_is_refused() -> None:
    """Every real clip (2,830 in ../shared/data) passes the reading and speech checks, with a margin over the
    steadiness bound."""
    shared = REPO.parent / "shared" / "data"
    if not shared.is_dir():
        if IN_CI:
            pytest.fail(f"{shared} is missing: CI must run the real-speech tests")
        pytest.skip(f"real-speech data not available at {shared} (only in the team's workspace)")
    refused, least = [], float("inf")
    for name, pattern in REAL_SPEECH.items():
        paths = sorted(shared.glob(pattern))
        assert paths, f"no clips in {shared / name}"
        for path in paths:
            try:
                audio = read_audio(path, SR)
                check_speech(path, audio, SR)
            except PipelineError as e:
                refused.append(str(e))
                continue
            least = min(least, band_variation_db(audio, SR))
    assert refused == []
    assert least > STEADY_DB + 3.0  # measured: 15.4 dB (other_digits/two/felix_nohash_10.wav)
    # Real background noise (60-95 s) stays within the noise length bound.
    assert len(load_noises(str(shared / "speech_commands_digits" / SPEECH_COMMANDS_NOISE_DIR), SR)) == 6


@pytest.mark.slow
def test_no_real_speech_clip_is_heard_as_a_tone() -> None:
    """The tone check (data.features.is_tone, the device's LastWindowIsTone) on every real clip of ../shared/data
    (3,222: the digits and 25 other words of 236 speakers): none is a tone (measured: at most 24 % of a clip's loud
    frames are peaked, the rule needs more than half)."""
    from data.features import is_tone

    shared = REPO.parent / "shared" / "data"
    if not shared.is_dir():
        if IN_CI:
            pytest.fail(f"{shared} is missing: CI must run the real-speech tests")
        pytest.skip(f"real-speech data not available at {shared} (only in the team's workspace)")
    params = FeatureParams.from_config()
    heard = []
    for name, pattern in {**REAL_SPEECH, "speech_commands_words": "speech_commands_words/[!_]*/*.wav"}.items():
        paths = sorted(shared.glob(pattern))
        assert paths, f"no clips in {shared / name}"
        heard += [str(path) for path in paths if is_tone(read_audio(path, SR), params)]
    assert heard == []


def test_generated_tones_and_glides_are_heard_as_tones_and_spoken_words_are_not(tmp_path: Path) -> None:
    """is_tone on generated sounds and the repository's spoken sample: every tone, nearly every glide (a fast glide
    spreads over a frame's bins), no word, noise, click or note sequence of several partials."""
    from data.features import is_tone
    from experiments.nonspeech import write_nonspeech

    params = FeatureParams.from_config()
    write_nonspeech(tmp_path, 20, seed=3, kinds=("tone", "sweep", "burst", "click", "music"))
    found = {kind.name.strip("_"): [is_tone(read_audio(path, SR), params) for path in sorted(kind.glob("*.wav"))]
             for kind in tmp_path.iterdir()}
    assert all(found["tone"]) and sum(found["sweep"]) >= 18
    assert not any(found["burst"] + found["click"] + found["music"])
    spoken = sorted((REPO / "data" / "speech_commands_sample").glob("[!_]*/*.wav"))
    assert len(spoken) > 100 and not any(is_tone(read_audio(path, SR), params) for path in spoken)


def test_features_computed_before_a_bad_file_are_kept(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", None)
    (data / "b" / "zz_late.wav").write_text("garbage")  # sorts last: every good clip is processed first
    build = tmp_path / "b"
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(build), check=False)
    cached = list((build / "cache" / "features").glob("*.npy"))
    assert len(cached) >= 6, "features of good clips must survive a later failure"
    np.load(cached[0], allow_pickle=False)


def test_empty_class_folder(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", None)
    (data / "c").mkdir()
    line = one_error_line(run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build",
                                    str(tmp_path / "b"), check=False))
    assert f"{data / 'c'}: empty class folder" in line


def test_one_class_dataset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "only").mkdir(parents=True)
    good(data / "only" / "x.wav")
    line = one_error_line(run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build",
                                    str(tmp_path / "b"), check=False))
    assert "at least two classes" in line and str(data) in line


@pytest.mark.slow
def test_unknown_label_at_evaluation(tmp_path: Path, smoke_build: Path) -> None:
    data = tmp_path / "eval"
    for label in ("one", "banana"):
        (data / label).mkdir(parents=True)
        good(data / label / "x.wav")
    line = one_error_line(run_stage("host.evaluate", "--data", str(data), "--out", str(tmp_path / "m.json"),
                                    "--build", str(smoke_build), check=False))
    assert "['banana']" in line and "not known to the model" in line


def test_cache_is_read_without_pickle(tmp_path: Path) -> None:
    """A cache file holding a pickled object is never unpickled: it is recomputed from the WAV."""
    data = make_dataset(tmp_path / "data", None)
    build = tmp_path / "b"
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(build))
    victim = sorted((build / "cache" / "features").glob("*.npy"))[0]
    np.save(victim, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(build))
    assert np.load(victim, allow_pickle=False).shape == (100, 13)
