"""Bad input: every case gets one line naming the file and the reason, or is skipped and listed with --skip-bad."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import run_stage
from test_features import tone


def good(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    sf.write(path, tone(16000, 0.5, (300.0 + 50 * seed, 1200.0)) + 0.01 * rng.standard_normal(8000).astype(np.float32),
             16000, subtype="PCM_16")


def riff(fmt_tag: int, data: bytes = b"\0" * 64) -> bytes:
    """A WAV header with the given format tag (1 = PCM)."""
    fmt = struct.pack("<HHIIHH", fmt_tag, 1, 16000, 32000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


BAD_FILES = {
    "not_wav.wav": lambda p: p.write_text("this is not audio\n"),
    "empty.wav": lambda p: p.write_bytes(riff(1, b"")),
    "zero_bytes.wav": lambda p: p.write_bytes(b""),
    "truncated.wav": lambda p: p.write_bytes(riff(1)[:30]),
    "unsupported.wav": lambda p: p.write_bytes(riff(0x0055)),  # MPEG layer 3 inside RIFF: libsndfile refuses
    "silence.wav": lambda p: sf.write(p, np.zeros(8000, np.float32), 16000, subtype="PCM_16"),
}


SPEAKERS = 20


def make_dataset(root: Path, bad: str | None) -> Path:
    """Two classes of 20 speakers' clips each (every split gets speakers), plus one bad file in class ``a``."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for speaker in range(SPEAKERS):
            good(root / label / f"s{speaker}_nohash_0.wav", speaker + (7 if label == "b" else 0))
    if bad:
        BAD_FILES[bad](root / "a" / bad)
    return root


def one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:") or "Traceback" in ln]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("bad", sorted(BAD_FILES))
def test_bad_file_gives_one_line_naming_it(tmp_path: Path, bad: str) -> None:
    data = make_dataset(tmp_path / "data", bad)
    proc = run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(tmp_path / "b"),
                     check=False)
    line = one_error_line(proc)
    assert str(data / "a" / bad) in line


def test_skip_bad_lists_every_bad_file_and_keeps_the_rest(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", None)
    for name, write in BAD_FILES.items():
        write(data / "b" / name)
    build = tmp_path / "b"
    run_stage("data", "--dataset", "folder", "--data-dir", str(data), "--build", str(build), "--skip-bad")
    summary = json.loads((build / "features" / "dataset.json").read_text())
    assert sorted(Path(s.split(":")[0]).name for s in summary["skipped"]) == sorted(BAD_FILES)
    assert sum(s["clips"] for s in summary["splits"].values()) == 2 * SPEAKERS


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
