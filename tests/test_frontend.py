"""The device's audio front end (firmware/src/frontend) against the training pipeline's (data/features.py, librosa):
its generated tables, its MFCCs and int8 features through the Python binding (the same C++), the harness in audio
mode on the virtual device, and protocol 2 seen from a version-1 host.

Tolerances, measured on the smoke set: the device's MFCCs differ from librosa's on the same 16-bit audio by float
rounding only (measured at most 4e-4 on values up to a few hundred; asserted below 5e-3); its int8 features are then
identical but for values that sit on a rounding boundary (at most 1 apart).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from data.config import PipelineError
from data.features import FeatureParams, clip_window, is_tone, mfcc, read_audio, to_int16, trim_bounds
from data.nothing import NOT_A_WORD
from experiments.nonspeech import write_nonspeech
from host import dut as dut_module
from host import harness
from host.dut import Dut, DutError
from host.frontend import DeviceFrontend, build_library, library_for, wav_audio
from host.runtime import Runtime
from host.serial_device import SerialLink
from host.ports import VirtualDeviceProcess
from quantize.codegen import frontend_tables, write_settings

ROOT = Path(__file__).resolve().parent.parent
MFCC_TOLERANCE = 5e-3  # largest |device - librosa| MFCC difference on the same audio (measured 4e-4)
CLIPS = 24  # test clips compared through the binding
AUDIO_CLIPS = 6  # clips through the harness in audio mode
STREAM_CLIPS = 20  # test clips in the streamed recording


@pytest.fixture(scope="module")
def runtime(smoke_build: Path) -> Runtime:
    return Runtime.open(smoke_build, warn=False)


@pytest.fixture(scope="module")
def frontend(smoke_build: Path, runtime: Runtime) -> DeviceFrontend:
    fe = DeviceFrontend(library_for(smoke_build))
    fe.check(runtime.meta)
    return fe


def test_generated_tables_are_librosas() -> None:
    import librosa
    import scipy.fft

    params = FeatureParams.from_config()
    t = frontend_tables(params.to_dict())
    mel = librosa.filters.mel(sr=params.sample_rate, n_fft=params.n_fft, n_mels=params.num_mels, fmin=params.fmin,
                              fmax=params.fmax, htk=False, norm="slaney")
    rebuilt = np.zeros_like(mel)
    pos = 0
    for m, (first, count) in enumerate(zip(t["mel_first"], t["mel_count"])):
        rebuilt[m, first:first + count] = t["mel_weights"][pos:pos + count]
        pos += count
    assert np.array_equal(rebuilt, mel) and pos == len(t["mel_weights"])
    assert not mel[:, t["spectrum_bins"]:].any()
    x = np.random.default_rng(0).normal(size=params.num_mels)
    assert np.allclose(t["dct"] @ x, scipy.fft.dct(x, type=2, norm="ortho")[:params.num_mfcc])
    assert np.allclose(t["window"], librosa.filters.get_window("hann", params.win_length, fftbins=True))


def test_fft_size_must_be_a_power_of_two() -> None:
    features = {**FeatureParams.from_config().to_dict(), "n_fft": 480}
    with pytest.raises(PipelineError, match="power of two"):
        frontend_tables(features)


@pytest.mark.firmware
@pytest.mark.slow
def test_mfccs_and_trim_equal_librosa_on_the_same_audio(runtime: Runtime, frontend: DeviceFrontend) -> None:
    params = runtime.params
    worst = 0.0
    for path in runtime.test_split()["ids"][:CLIPS]:
        audio = to_int16(clip_window(read_audio(Path(path), params.sample_rate), params))
        as_read = audio.astype(np.float32) / 32768
        assert frontend.trim(audio) == trim_bounds(as_read, params)
        worst = max(worst, float(np.abs(frontend.mfcc(audio) - mfcc(as_read, params)).max()))
    assert worst < MFCC_TOLERANCE


@pytest.mark.firmware
@pytest.mark.slow
def test_int8_features_equal_the_pipelines(runtime: Runtime, frontend: DeviceFrontend) -> None:
    """Against the features the pipeline stored for the test split (whole recordings, longer than the 1 s the
    device gets for many synthetic clips): the window the host sends reproduces them."""
    split = runtime.test_split()
    host = runtime.device_input(split["x"][:CLIPS])
    device = np.stack([frontend.features(wav_audio(Path(p), runtime.params)) for p in split["ids"][:CLIPS]])
    diff = np.abs(host.astype(np.int16) - device.astype(np.int16))
    assert np.mean(diff == 0) >= 0.99
    assert diff.max() <= 1


@pytest.mark.slow
def test_long_recordings_are_sent_as_their_speech_with_margins(runtime: Runtime) -> None:
    params = runtime.params
    rng = np.random.default_rng(1)
    word = read_audio(Path(runtime.test_split()["ids"][0]), params.sample_rate)
    word = word[slice(*trim_bounds(word, params))]
    noise = np.round(rng.normal(0, 2, 2 * params.clip_samples + 37)) / 32768  # a quiet room, off the hop grid
    audio = np.concatenate([noise, word, np.zeros(3000)]).astype(np.float32)
    window = clip_window(audio, params)
    assert len(word) < len(window) < params.clip_samples
    assert np.array_equal(mfcc(window, params), mfcc(audio, params))


@pytest.mark.firmware
@pytest.mark.slow
def test_the_listeners_streamed_features_are_the_clip_paths(runtime: Runtime, frontend: DeviceFrontend) -> None:
    """The listener's streaming front end (frontend::ComputeStream: each frame computed once per recording) gives
    every 1 s window, 250 ms apart, the int8 features of the clip path (frontend::Compute, what HEAR runs) byte for
    byte, on real Speech Commands clips (data/speech_commands_sample) and the test split's clips back to back with
    gaps of quiet noise off the hop grid; after the first window it computes only the new audio's frames and those
    across the trimming cuts."""
    from experiments.frontend import SAMPLE, compare_streaming, word_labels
    from data.datasets import load_folder
    from host.recognize import RecognitionSettings

    params = runtime.params
    rng = np.random.default_rng(5)
    paths = [c.path for c in load_folder(SAMPLE, word_labels(runtime.labels))[::10]] + list(runtime.test_split()["ids"][:STREAM_CLIPS])
    parts = []
    for path in paths:
        parts.append(to_int16(read_audio(Path(path), params.sample_rate)))
        parts.append(np.round(rng.normal(0, 3, int(rng.integers(100, 9000)))).astype(np.int16))
    settings = RecognitionSettings.from_config()
    result = compare_streaming(frontend, np.concatenate(parts), settings, params.sample_rate)
    assert result["windows"] >= 100
    assert result["identical_windows"] == result["windows"]
    new_frames = settings.evaluate_every_ms * params.sample_rate // 1000 // params.hop_length
    cut_frames = 2 * -(-params.win_length // params.hop_length)
    assert result["spectra_first_window"] >= params.num_frames
    assert new_frames <= result["spectra_per_window_max"] <= new_frames + cut_frames


@pytest.mark.firmware
def test_library_build_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="model_settings.h: missing"):
        build_library(tmp_path, tmp_path / "lib.so")
    (tmp_path / "model_settings.h").write_text("#error broken\n")
    with pytest.raises(PipelineError, match="building the front end library failed: .*broken"):
        build_library(tmp_path, tmp_path / "lib.so")


def another_models_meta() -> dict:
    """The metadata of a model of another front end (20 ms hop: 50 frames of 13)."""
    features = {**FeatureParams.from_config().to_dict(), "hop_ms": 20.0}
    return {"model_hash": "0123abcd", "labels": ["a", "b"],
            "input": {"shape": [1, 50, 13], "scale": 0.05, "zero_point": 0},
            "output": {"scale": 1 / 256, "zero_point": -128},
            "arena_bytes": 16, "arena_margin": 1.0, "arena_target_ratio": 1.0, "tensor_arena_size": 16,
            "features": features, "answer": {"min_confidence": 0.5, "min_word_score": 0},
            "norm": {"per_utterance_mean": True, "mean": [0.0] * 13, "std": [1.0] * 13, "clip": 0.0}}


@pytest.mark.firmware
def test_settings_of_an_older_generator_are_refused_in_one_line(tmp_path: Path) -> None:
    """A build folder quantized before the settings gained constants (no MODEL_SETTINGS_VERSION): the front end
    does not compile, and says why."""
    from quantize.codegen import SETTINGS_VERSION

    write_settings(tmp_path, another_models_meta(), "test")
    settings = tmp_path / "model_settings.h"
    line = f"#define MODEL_SETTINGS_VERSION {SETTINGS_VERSION}\n"
    assert line in settings.read_text()
    settings.write_text(settings.read_text().replace(line, ""))
    with pytest.raises(PipelineError, match="older than this firmware: run `make quantize` again"):
        build_library(tmp_path, tmp_path / "lib.so")


@pytest.mark.firmware
def test_library_is_built_for_its_models_front_end(tmp_path: Path) -> None:
    """Another front end (20 ms hop: 50 frames) from another model's metadata; a model of the 10 ms front end
    refuses that library."""
    meta = another_models_meta()
    write_settings(tmp_path, meta, "test")
    other = DeviceFrontend(build_library(tmp_path, tmp_path / "lib.so"))
    assert (other.frames, other.coeffs) == (50, 13)
    other.check(meta)
    x = other.features(np.round(np.sin(np.arange(8000) * 0.3) * 8000 * np.hanning(8000)).astype(np.int16))
    assert x.shape == (50, 13)
    with pytest.raises(PipelineError, match="rebuild it"):
        other.check({**meta, "features": FeatureParams.from_config().to_dict()})


@pytest.mark.firmware
@pytest.mark.slow
def test_harness_audio_mode_on_the_virtual_device(smoke_build: Path, tmp_path: Path) -> None:
    summary = harness.run("virtual", smoke_build, tmp_path, n=AUDIO_CLIPS, report=False, input_kind="audio")
    fe = summary["frontend"]
    assert summary["input"] == "audio" and summary["clips"] == AUDIO_CLIPS
    assert fe["identical_values"] >= 0.99 and fe["max_abs_diff"] <= 1
    assert fe["same_audio"]["identical_values"] >= 0.99 and fe["same_audio"]["max_abs_diff"] <= 1
    assert fe["host_binding_identical_clips"] == 1.0
    assert summary["model_on_device_features"]["identical"] == 1.0
    assert fe["latency"]["us"]["min"] > 0


def tone_folder(root: Path) -> Path:
    """``root/data``: generated tones, glides, noise bursts and note sequences (``tone/``, ...: the harness takes no
    folder starting with _, and these are no labels of the model) and three spoken clips of the repository's sample
    (``seven/``): what a HEAR test of the tone check sends."""
    data = root / "data"
    write_nonspeech(data, 3, seed=6, kinds=("tone", "sweep", "burst", "music"))
    for folder in data.iterdir():
        folder.rename(data / folder.name.strip("_"))
    (data / "seven").mkdir()
    for path in sorted((ROOT / "data" / "speech_commands_sample" / "seven").glob("*.wav"))[:3]:
        shutil.copy(path, data / "seven" / path.name)
    return data


def check_tone_answers(summary: dict, out: Path) -> None:
    """A harness run in audio mode on ``tone_folder``: the device answered not-a-word to every tone and glide the
    host's check hears, and every answer is the host's (its check and its TFLM)."""
    assert summary["answers"]["sent_by_device"] and summary["answers"]["identical_device_tflm"] == 1.0
    records = [json.loads(line)["clip"] for line in (out / harness.RESULTS_FILE).read_text().splitlines()[1:]]
    assert len(records) == 3 * 4 + 3
    for r in records:
        if Path(r["id"]).parent.name == "tone":
            assert r["answer"] == NOT_A_WORD, r


@pytest.mark.firmware
@pytest.mark.slow
def test_the_device_hears_a_tone_where_the_host_does(smoke_build: Path, runtime: Runtime, frontend: DeviceFrontend,
                                                     tmp_path: Path) -> None:
    """The tone check of the device's front end (LastWindowIsTone, through the binding) decides as the host's
    (data.features.is_tone) on the audio a device is sent, and HEAR on the virtual device (the same C++) answers
    not-a-word to a tone whatever the model scores."""
    data = tone_folder(tmp_path)
    params = runtime.params
    paths = sorted(data.rglob("*.wav")) + [Path(i) for i in runtime.test_split()["ids"][:CLIPS]]
    decided = []
    for path in paths:
        audio = wav_audio(path, params)
        frontend.features(audio)
        decided.append((frontend.is_tone(), is_tone(audio.astype(np.float32) / 32768, params)))
    assert all(device == host for device, host in decided), [str(p) for p, d in zip(paths, decided) if d[0] != d[1]]
    assert sum(device for device, _ in decided) >= 5  # the tones and most glides
    out = tmp_path / "harness"
    check_tone_answers(harness.run("virtual", smoke_build, out, data_dir=data, report=False, input_kind="audio"),
                       out)


def test_a_version_1_host_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with VirtualDeviceProcess(["--backend", "fake"]) as device, SerialLink(device.port) as link:
        monkeypatch.setattr(dut_module.p, "PROTOCOL_VERSION", 1)
        with pytest.raises(DutError, match="device speaks protocol 2, this host speaks 1"):
            Dut(link).handshake()


def test_audio_longer_than_the_device_takes_is_refused() -> None:
    with VirtualDeviceProcess(["--backend", "fake"]) as device, SerialLink(device.port) as link:
        dut = Dut(link)
        info = dut.handshake()
        with pytest.raises(DutError, match=f"takes 1..{info.audio}"):
            dut.hear(np.zeros(info.audio + 1, np.int16))
        result, features, attempts = dut.hear(np.arange(300, dtype=np.int16))
        assert len(features) == info.input_bytes and attempts == 1 and result.fe_us == 2000
