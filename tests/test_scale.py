"""The full-dataset path at small size: the rehearsal set, the data stage on every core (the same features for any
number of workers, resumed from the cache after Ctrl-C), `make data`'s closing command on the rehearsal set, and
training drawing its batches from the mapped feature files."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, run_stage
from data.datasets import SPEECH_COMMANDS_NOISE_DIR, load_split
from data.download import SOURCES
from data.features import apply_norm, fit_norm
from data.rehearsal import CLIPS_PER_SPEAKER, rehearse, which_set

pytestmark = pytest.mark.slow  # every test runs the data stage on a rehearsal set

# Clips of the rehearsal set the data-stage tests run on: a few hundred feature computations (train clips and two
# augmented copies each), seconds of work that an interruption can stop halfway.
CLIPS = 90
# Its seed: the first six speakers fall in all three published splits (three train).
SEED = 6
SPLIT_FILES = ("train", "val", "test", "train_aug")
# Stop the first run once this share of its feature computations is cached.
STOP_AT = 0.4
# Seconds the interrupted run may take to reach STOP_AT (a loaded machine).
STOP_DEADLINE_S = 300.0
# The `make data` closing command's variables, as the Makefile passes them to the data stage.
MAKE_FLAGS = {"DATASET": "--dataset", "DATA_DIR": "--data-dir", "NOISE_DIR": "--noise-dir"}
MAKE_SWITCHES = {"SKIP_BAD": "--skip-bad"}


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rehearse(CLIPS, tmp_path_factory.mktemp("rehearsal") / "speech_commands", SEED)


def make_data_command(data_dir: Path) -> list[str]:
    """The data stage of the command `make data DATASET=speech_commands` ends with, for ``data_dir``, as the
    Makefile runs it (failing on a variable this test does not know how to pass)."""
    words = shlex.split(SOURCES["speech_commands"].train.format(dir=data_dir))
    args = []
    for word in words:
        name, value = word.split("=", 1)
        if name in MAKE_SWITCHES:
            args += [MAKE_SWITCHES[name]] if value else []
        else:
            args += [MAKE_FLAGS[name], value]
    return args


def cache_entries(build: Path) -> dict[str, tuple[int, int]]:
    """Every finished cache entry of a build (temporary files start with a dot): name -> (inode, mtime)."""
    out = {}
    for folder in ("features", "augmented"):
        for p in (build / "cache" / folder).glob("[!.]*.npy"):
            st = p.stat()
            out[f"{folder}/{p.name}"] = (st.st_ino, st.st_mtime_ns)
    return out


def counts(stdout: str) -> tuple[int, int]:
    """(computed, from the cache) of the data stage's closing line."""
    m = re.search(r"\((\d+) computed, (\d+) from the cache", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


def assert_same_features(a: Path, b: Path) -> None:
    for name in SPLIT_FILES:
        za, zb = load_split(a / "features" / f"{name}.npz"), load_split(b / "features" / f"{name}.npz")
        for key in ("x", "y", "sources", "labels"):
            np.testing.assert_array_equal(za[key], zb[key], err_msg=f"{name}.npz {key}")
        # ids name the files: the generated nothing clips are in each build's own folder
        assert [i.replace(str(a), "<build>") for i in za["ids"].tolist()] == \
            [i.replace(str(b), "<build>") for i in zb["ids"].tolist()], f"{name}.npz ids"


@pytest.fixture(scope="module")
def reference(rehearsal: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The data stage of `make data`'s closing command on the rehearsal set, uninterrupted, on every core."""
    build = tmp_path_factory.mktemp("reference")
    proc = run_stage("data", *make_data_command(rehearsal), "--build", str(build))
    return build, proc.stdout


def test_rehearsal_has_the_speech_commands_layout(rehearsal: Path, tmp_path: Path) -> None:
    wavs = sorted(p for p in rehearsal.glob("*/*.wav") if p.parent.name != SPEECH_COMMANDS_NOISE_DIR)
    assert len(wavs) == CLIPS
    speakers = {p.name.split("_nohash_")[0] for p in wavs}
    assert len(speakers) == -(-CLIPS // CLIPS_PER_SPEAKER) and all(re.fullmatch(r"[0-9a-f]{8}", s) for s in speakers)
    for p in wavs[:20]:
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
    assert len({p.read_bytes() for p in wavs}) == CLIPS  # perturbed: no two files alike
    listed = {name: set((rehearsal / f"{name}_list.txt").read_text().split()) for name in ("validation", "testing")}
    for p in wavs:
        rel = f"{p.parent.name}/{p.name}"
        assert (rel in listed["validation"], rel in listed["testing"]) == (which_set(p.name) == "validation",
                                                                         which_set(p.name) == "testing")
    assert len(list((rehearsal / SPEECH_COMMANDS_NOISE_DIR).glob("*.wav"))) >= 1
    # The same seed writes the same files.
    again = rehearse(CLIPS, tmp_path / "again", SEED)
    assert all((again / p.relative_to(rehearsal)).read_bytes() == p.read_bytes() for p in wavs[:10])


def test_make_data_command_trains_on_the_rehearsal_set(reference: tuple[Path, str]) -> None:
    """`make data DATASET=speech_commands` ends with `make train quantize <variables>`: its data stage (the
    reference fixture) and its training run on the rehearsal set."""
    build, stdout = reference
    assert SOURCES["speech_commands"].train.startswith("DATASET=speech_commands ")
    computed, cached = counts(stdout)
    # the default's _silence_ clips come with their features (data/nothing.py), nothing else from a cache
    assert cached == len(list((build / "nothing" / "_silence_").glob("*.wav"))) and computed > CLIPS
    run_stage("train", "--smoke", "--build", str(build))
    assert (build / "model_float.h5").is_file()


def test_interrupted_data_stage_resumes_without_redoing_cached_clips(rehearsal: Path, reference: tuple[Path, str],
                                                                     tmp_path: Path) -> None:
    """Ctrl-C halfway, then the same command: the cached clips are not computed again, and the features are those
    of an uninterrupted run; so are those of a run on one core."""
    build = tmp_path / "b"
    args = [sys.executable, "-m", "data", *make_data_command(rehearsal), "--build", str(build)]
    env = os.environ | {"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    total = sum(counts(reference[1]))
    # Its own process group, like a terminal's foreground job: Ctrl-C reaches the stage and its workers. A parallel
    # run's worker (pytest-xdist) ignores SIGINT, which a child would inherit: the child gets a terminal's default.
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + STOP_DEADLINE_S
    while proc.poll() is None and len(cache_entries(build)) < STOP_AT * total and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the data stage ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stderr.strip().splitlines()[-1] == "interrupted", stderr[-2000:]
    assert "Traceback" not in stderr
    assert not (build / "features").exists()  # nothing half-written in place of the features
    before = cache_entries(build)
    assert 0 < len(before) < total
    resumed = run_stage("data", *make_data_command(rehearsal), "--build", str(build))
    assert counts(resumed.stdout) == (total - len(before), len(before))
    after = cache_entries(build)
    assert {k: after[k] for k in before} == before  # not one cached clip written again
    assert_same_features(build, reference[0])
    one_core = tmp_path / "one"
    run_stage("data", *make_data_command(rehearsal), "--jobs", "1", "--build", str(one_core))
    assert_same_features(one_core, reference[0])


def test_training_draws_batches_from_the_mapped_files(reference: tuple[Path, str]) -> None:
    from train.fit import NormalizedRows

    features = reference[0] / "features"
    train = load_split(features / "train.npz", mmap=True)
    aug = load_split(features / "train_aug.npz", mmap=True)
    assert isinstance(train["x"], np.memmap) and isinstance(aug["x"], np.memmap)  # not read into memory
    loaded = load_split(features / "train.npz")
    np.testing.assert_array_equal(np.asarray(train["x"]), loaded["x"])
    norm = fit_norm(train["x"], True, 6.0)
    everything = apply_norm(np.concatenate([loaded["x"], load_split(features / "train_aug.npz")["x"]]), norm)
    rows = NormalizedRows([train["x"], aug["x"]], norm)
    assert len(rows) == len(everything)
    pick = np.random.default_rng(0).permutation(len(rows))[:50]
    np.testing.assert_array_equal(rows[pick], everything[pick])  # the numbers of normalizing all at once
