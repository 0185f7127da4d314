"""Same seed, same model in any folder; bounded memory for long many-channel WAVs; a quiet Ctrl-C."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO
from data import X86_64, has_avx2
from data.augment_audio import AudioAugmentParams
from data.config import load_config
from data.datasets import Clip, save_split
from data.artifacts import features_digest

SAMPLE_NOISE = REPO / "data" / "speech_commands_sample" / "_background_noise_"


def test_augmentation_seeds_do_not_depend_on_where_the_noise_folder_is(tmp_path: Path) -> None:
    """The noise folder enters every augmented copy's seed by its content, never by its path."""
    near, far = tmp_path / "a", tmp_path / "a-much-longer-folder-name" / "nested" / "noise"
    shutil.copytree(SAMPLE_NOISE, near)
    shutil.copytree(SAMPLE_NOISE, far)
    config = load_config()
    digest = AudioAugmentParams.from_config(config, near).digest()
    assert AudioAugmentParams.from_config(config, far).digest() == digest
    first = sorted(far.glob("*.wav"))[0]
    first.write_bytes(first.read_bytes()[:-2] + b"\x01\x02")  # other noise: other copies
    assert AudioAugmentParams.from_config(config, far).digest() != digest
    assert AudioAugmentParams.from_config(config).digest() != digest


def test_features_digest_follows_the_arrays_not_the_clip_paths(tmp_path: Path) -> None:
    """The digest is embedded in the model: clips at another path give the same digest, other features another."""
    x = np.random.default_rng(0).normal(size=(4, 100, 13)).astype(np.float32)

    def write(root: Path, features: np.ndarray) -> Path:
        out = root / "features"
        out.mkdir(parents=True)
        clips = [Clip(root / "synth" / lab / f"synth-a{i}_0.wav", lab, f"synth-a{i}") for i, lab in
                 enumerate(["zero", "one", "zero", "one"])]
        for split in ("train", "val", "test"):
            save_split(out / f"{split}.npz", features, clips, ["zero", "one"])
        (out / "dataset.json").write_text(f'{{"root": "{root}"}}')
        return out

    digest = features_digest(write(tmp_path / "clone-a", x))
    assert features_digest(write(tmp_path / "elsewhere" / "clone-b", x)) == digest
    y = x.copy()
    y[0, 0, 0] += 1
    assert features_digest(write(tmp_path / "clone-c", y)) != digest


def user_clone(dest: Path) -> Path:
    """The repository as a user's clone holds it (the files git tracks or would track: no build/, no .venv) at
    ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def smoke_model(clone: Path) -> Path:
    """The default dataset's smoke model built in ``clone`` with its own code, as `make train quantize SMOKE=1`."""
    env = os.environ | {"PYTHONPATH": str(clone), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                        "PYTHONWARNINGS": "ignore"}
    env.pop("PIPELINE_CONFIG", None)
    for stage in (["data", "--dataset", "sample+synth"], ["train"], ["quantize"]):
        proc = subprocess.run([sys.executable, "-m", *stage, "--smoke"], cwd=clone, env=env, capture_output=True,
                              text=True)
        assert proc.returncode == 0, f"{clone}: {stage}: {proc.stderr[-2000:]}"
    return clone / "build"


@pytest.mark.slow
def test_two_clones_at_different_paths_build_the_same_model(tmp_path: Path) -> None:
    """Same seed, same bytes: no absolute path, host name or time enters a seed, a feature or the model."""
    if not (REPO / ".git").exists():
        pytest.skip(f"{REPO} is not a git checkout: no clone to copy")
    builds = [smoke_model(user_clone(tmp_path / "a")),
              smoke_model(user_clone(tmp_path / "a-folder-with-a-much-longer-name" / "and" / "depth"))]
    for split in ("train", "val", "test", "train_aug"):
        with np.load(builds[0] / "features" / f"{split}.npz") as a, \
                np.load(builds[1] / "features" / f"{split}.npz") as b:
            for key in ("x", "y", "sources"):
                assert np.array_equal(a[key], b[key]), (split, key)
    models = [(b / "model_int8.tflite").read_bytes() for b in builds]
    assert models[0] == models[1]


def peak_rss_mb(path: Path) -> float:
    """Peak resident memory (MB) of a fresh process that reads ``path`` with :func:`data.features.read_audio`."""
    code = ("import resource, sys; from pathlib import Path; from data.features import read_audio; "
            f"read_audio(Path({str(path)!r}), 16000); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=True)
    return int(proc.stdout.split()[-1]) / 1024


def test_a_long_many_channel_wav_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A legal 362 MB WAV (59 s, 192 kHz, 8 channels of float32) costs the reader about its mono signal (45 MB),
    not the whole file decoded (it took 1.1 GB more than a small file when read whole): measured against the same
    reader on a one-second file of the same format, so the libraries' own memory cancels out."""
    rate, channels = 192_000, 8

    def write(path: Path, seconds: int) -> Path:
        rng = np.random.default_rng(0)
        with sf.SoundFile(path, "w", rate, channels, subtype="FLOAT") as f:
            for _ in range(seconds):
                f.write((0.1 * rng.standard_normal((rate, channels))).astype(np.float32))
        return path

    big = write(tmp_path / "long.wav", 59)
    assert big.stat().st_size > 360e6
    extra = peak_rss_mb(big) - peak_rss_mb(write(tmp_path / "short.wav", 1))
    assert extra < big.stat().st_size / 1e6 / 2, f"{extra:.0f} MB more than for a one-second file"


def test_ctrl_c_while_the_libraries_load_prints_one_word(tmp_path: Path) -> None:
    """Ctrl-C while TensorFlow starts (its start-up lines are hidden): "interrupted", not the hidden lines."""
    code = ("import os; from data.config import run_main; from data.quiet import hushed\n"
            "def main():\n"
            "    with hushed():\n"
            "        os.write(2, b'E0000 cuda_dnn.cc: Unable to register cuDNN factory\\n')\n"
            "        raise KeyboardInterrupt\n"
            "run_main(main)\n")
    env = {k: v for k, v in os.environ.items() if k != "V"} | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 130
    assert proc.stderr == "interrupted\n"


def test_a_failing_import_still_shows_its_hidden_lines(tmp_path: Path) -> None:
    """... while a real failure shows them: they are the user's only clue."""
    code = ("import os; from data.quiet import hushed\n"
            "with hushed():\n"
            "    os.write(2, b'E0000 the reason\\n')\n"
            "    raise ImportError('no module')\n")
    env = {k: v for k, v in os.environ.items() if k != "V"} | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "E0000 the reason" in proc.stderr


ISA_RUN = """
import hashlib, sys
import numpy as np
from pathlib import Path
from data.config import load_config
from data.datasets import Clip
from experiments.cv.folds import split_arrays
from train.fit import train_model
rng = np.random.default_rng(0)
labels = ["zero", "one", "two"]
def split(n):
    clips = [Clip(Path(f"/s/synth-a{i % 8}/{i}.wav"), labels[i % 3], f"synth-a{i % 8}") for i in range(n)]
    x = rng.normal(0, 10, (n, 100, 13)).astype(np.float32)
    x[np.arange(n) % 3 == 1, :, 1] += 20.0
    return split_arrays(x, clips, labels)
model, _, _ = train_model(split(128), split(32), load_config(), 7, 1, None, verbose=0)
print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
"""


@pytest.mark.slow
def test_the_model_does_not_depend_on_the_instruction_set_the_cpu_offers() -> None:
    """Trained where oneDNN may use every instruction the CPU has (AVX-512 here) and where it is capped at AVX2,
    one seed gives the same weights (on a CPU without AVX-512 both runs are alike anyway)."""
    weights = []
    for isa in ("ALL", "AVX2"):
        env = os.environ | {"PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                            "ONEDNN_MAX_CPU_ISA": isa}
        proc = subprocess.run([sys.executable, "-c", ISA_RUN], cwd=REPO, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        weights.append(proc.stdout.split()[-1])
    assert weights[0] == weights[1]


# A stage's order: its package (which imports ``data``) before NumPy.
FEATURES_RUN = """
from data.config import load_config
from data.features import FeatureParams, mfcc
import hashlib
import numpy as np
t = np.arange(16000) / 16000
x = (0.3 * np.sin(2 * np.pi * 180 * t) * np.exp(-t) + 0.01 * np.random.default_rng(0).standard_normal(16000))
print(hashlib.sha256(mfcc(x.astype(np.float32), FeatureParams.from_config(load_config())).tobytes()).hexdigest())
"""
# What another machine's NumPy and OpenBLAS would pick: NumPy without its AVX2 paths, OpenBLAS's Sandybridge kernels
# (each alone changes the MFCC bytes when nothing pins them).
OTHER_KERNELS = {"NPY_DISABLE_CPU_FEATURES": "X86_V3", "OPENBLAS_CORETYPE": "Sandybridge"}
PINNED = X86_64 and has_avx2()
NOT_PINNED = "the kernel pins are those of x86-64 Linux with AVX2"


@pytest.mark.skipif(not PINNED, reason=NOT_PINNED)
def test_the_features_do_not_depend_on_the_kernels_the_cpu_offers() -> None:
    """A machine whose NumPy and OpenBLAS pick other kernels computes the same MFCC bytes: importing ``data`` pins
    them (AVX2, OpenBLAS Haswell) before NumPy loads, whatever the environment asked for."""
    digests = []
    for extra in ({}, OTHER_KERNELS):
        env = {k: v for k, v in os.environ.items() if k not in OTHER_KERNELS} | {"PYTHONPATH": str(REPO)} | extra
        proc = subprocess.run([sys.executable, "-c", FEATURES_RUN], cwd=REPO, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        digests.append(proc.stdout.split()[-1])
    assert digests[0] == digests[1]


# In a child process: whether NumPy was loaded by the package, then OpenBLAS's kernel and NumPy's AVX-512 paths.
KERNELS_RUN = """
import sys, {package}
loaded = "numpy" in sys.modules
from numpy._core._multiarray_umath import __cpu_features__
from threadpoolctl import threadpool_info
blas = sorted({{i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"}})
print(loaded, ",".join(blas), __cpu_features__["AVX512F"])
"""


@pytest.mark.skipif(not PINNED, reason=NOT_PINNED)
@pytest.mark.parametrize("package", ["data", "train", "quantize", "host", "experiments", "demo"])
def test_every_stage_pins_the_kernels_before_numpy_loads(package: str) -> None:
    """``python -m <stage>`` imports its package first: each one sets the pins without loading NumPy, and NumPy then
    runs OpenBLAS's Haswell kernels and no AVX-512 path, though the environment asked for others."""
    proc = subprocess.run([sys.executable, "-c", KERNELS_RUN.format(package=package)], cwd=REPO, capture_output=True,
                          text=True, env=os.environ | OTHER_KERNELS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "Haswell", "False"]
