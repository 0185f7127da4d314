"""Continuous recognition (issue 19): the Python mirror of RecognizeCommands on constructed score sequences (the
same cases as firmware/src/listen/recognize_commands_test.cc), its settings against the firmware's copy, the
scoring of detections, the long-recording builder, the listener's C++ unit tests, and the listener run on the mock
audio provider (firmware simulator) over a short constructed recording."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from data.config import PipelineError, load_config
from data.features import read_audio
from host import protocol as p
from host.long_recording import build_recording, word_pool
from host.recognize import (Detection, RecognitionSettings, RecognizeCommands, parse_heard, score_detections,
                            window_ends)

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true"
LABELS = ["zero", "one", "_silence_"]
TEST_SETTINGS = RecognitionSettings(window_ms=1000, evaluate_every_ms=250, average_window_ms=750, minimum_count=3,
                                    threshold=0.6, refractory_ms=1000)
# Building the host TFLM library and the simulator from scratch on two cores; running it on 20 s of audio.
SIM_BUILD_TIMEOUT_S = 1800
SIM_RUN_TIMEOUT_S = 300


def feed(rc: RecognizeCommands, time_ms: int, one: float, silence: float = 0.0):
    return rc.process(np.array([0.05, one, silence], np.float32), time_ms)


def test_needs_minimum_count() -> None:
    rc = RecognizeCommands(TEST_SETTINGS, LABELS)
    assert not feed(rc, 0, 1.0).heard
    second = feed(rc, 250, 1.0)
    assert not second.heard and second.label == -1
    third = feed(rc, 500, 1.0)
    assert third.heard and third.label == 1


def test_threshold() -> None:
    above, below = RecognizeCommands(TEST_SETTINGS, LABELS), RecognizeCommands(TEST_SETTINGS, LABELS)
    for t in (0, 250, 500):
        assert feed(above, t, 0.7).heard == (t == 500)
        assert not feed(below, t, 0.5).heard


def test_averages_recent_results() -> None:
    rc = RecognizeCommands(TEST_SETTINGS, LABELS)
    feed(rc, 0, 0.3)
    feed(rc, 250, 0.3)
    weak = feed(rc, 500, 0.9)
    assert not weak.heard and weak.label == 1 and abs(weak.score - 0.5) < 0.01
    strong = feed(rc, 750, 0.9)  # the result of time 0 has left the 750 ms window
    assert strong.heard and abs(strong.score - 0.7) < 0.01


def test_old_results_leave_the_window() -> None:
    rc = RecognizeCommands(TEST_SETTINGS, LABELS)
    for t in (0, 250, 500):
        feed(rc, t, 0.1)
    assert feed(rc, 5000, 1.0).label == -1


def test_refractory_period() -> None:
    rc = RecognizeCommands(TEST_SETTINGS, LABELS)
    heard = [t for t in range(0, 2001, 250) if feed(rc, t, 0.9).heard]
    assert heard == [500, 1500]


def test_never_reports_nothing_labels() -> None:
    rc = RecognizeCommands(TEST_SETTINGS, LABELS)
    results = [feed(rc, t, 0.0, 0.95) for t in range(0, 1001, 250)]
    assert not any(r.heard for r in results) and results[-1].label == 2


def test_rejects_bad_input() -> None:
    rc = RecognizeCommands(TEST_SETTINGS, LABELS)
    with pytest.raises(PipelineError, match="scores for 3 labels"):
        rc.process(np.zeros(2, np.float32), 0)
    rc.process(np.zeros(3, np.float32), 500)
    with pytest.raises(PipelineError, match="backwards"):
        rc.process(np.zeros(3, np.float32), 250)


def test_firmware_settings_equal_config() -> None:
    """firmware/src/listen/recognition_settings.h is the firmware's copy of config.toml [recognition]."""
    header = (ROOT / "firmware/src/listen/recognition_settings.h").read_text()
    values = {m.group(1): float(m.group(2)) for m in
              re.finditer(r"constexpr \w+ (k\w+) = ([0-9.]+)f?;", header)}
    cfg = load_config()["recognition"]
    names = {"kWindowMs": "window_ms", "kEvaluateEveryMs": "evaluate_every_ms",
             "kAverageWindowMs": "average_window_ms", "kMinimumCount": "minimum_count",
             "kDetectionThreshold": "threshold", "kRefractoryMs": "refractory_ms"}
    assert set(values) == set(names)
    for c_name, key in names.items():
        assert values[c_name] == cfg[key], (c_name, values[c_name], key, cfg[key])


def test_window_ends_follow_the_firmware_grid() -> None:
    ends = list(window_ends(16000 * 3 + 100, 16000, TEST_SETTINGS))
    assert ends == [16000, 20000, 24000, 28000, 32000, 36000, 40000, 44000, 48000]


def test_scoring_hits_misses_false_alarms() -> None:
    truth = [{"label": "one", "onset_ms": 1000, "offset_ms": 1500}, {"label": "two", "onset_ms": 5000,
                                                                      "offset_ms": 5600}]
    dets = [Detection("one", 0.9, 2000),   # hit
            Detection("one", 0.8, 2500),   # same word again: a false alarm
            Detection("six", 0.7, 5500),   # wrong label inside "two": false alarm, "two" missed
            Detection("nine", 0.9, 9000)]  # nothing there
    s = score_detections(dets, truth, duration_s=3600.0)
    assert (s["hits"], s["misses"], s["false_alarms"], s["false_alarms_wrong_label"]) == (1, 1, 3, 1)
    assert s["false_alarms_per_hour"] == 3.0 and s["hit_rate"] == 0.5


def test_parse_heard_lines() -> None:
    lines = ["# listening model=abcd1234 window=1000ms every=250ms", "# heard seven 0.87 at 12250", "junk",
             "# played 20000 ms"]
    assert parse_heard(lines) == [Detection("seven", 0.87, 12250)]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list]:
    """A short recording (6 words) of three harmonic bursts (a fundamental and seven partials: no tone, which the
    listener would never hear) standing in for digits (no shared data needed): its WAV, its ground truth and its
    word pool."""
    from data.synth import write_wav

    root = tmp_path_factory.mktemp("recording")
    rng = np.random.default_rng(0)
    clips = []
    for k, label in enumerate(["one", "two", "three"]):
        t = np.arange(8000) / 16000
        partials = sum(np.sin(2 * np.pi * (120 + 40 * k) * h * t) / h for h in range(1, 9))
        tone = partials * np.hanning(8000) * 0.2 + rng.normal(0, 0.01, 8000)
        path = root / f"{label}.wav"
        write_wav(path, np.round(tone * 32767).astype(np.int16), 16000)
        clips.append((path, label))
    wav = root / "rec.wav"
    return wav, build_recording(wav, clips, 6, 16000, seed=3, noise_dir=root / "no-noise"), clips


def test_long_recording_truth_matches_audio(recording: tuple[Path, dict, list]) -> None:
    wav, truth, _ = recording
    audio = read_audio(wav, 16000, 600.0)
    assert abs(len(audio) / 16000 - truth["duration_s"]) < 1e-3
    words = truth["words"]
    assert len(words) == 6 and json.loads(wav.with_suffix(".json").read_text()) == truth
    for a, b in zip(words, words[1:]):
        assert b["onset_ms"] - a["offset_ms"] >= 1500  # GAP_S[0]
    for w in words:  # the word is there: much louder than the bed around it
        on, off = w["onset_ms"] * 16, w["offset_ms"] * 16
        assert np.abs(audio[on:off]).max() > 3 * np.abs(audio[on - 8000:on - 4000]).max()


def test_long_recording_is_deterministic(recording: tuple[Path, dict, list], tmp_path: Path) -> None:
    wav, truth, clips = recording
    again = build_recording(tmp_path / "again.wav", clips, 6, 16000, seed=3, noise_dir=tmp_path / "no-noise")
    assert again["words"] == truth["words"]
    assert (tmp_path / "again.wav").read_bytes() == wav.read_bytes()


def test_word_pool_needs_digits(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="no held-out digit clips"):
        word_pool(["a.wav"], ["_unknown_"], shared=tmp_path / "absent")


@pytest.mark.firmware
def test_listener_unit_tests() -> None:
    """The C++ side: ring, mock provider, RecognizeCommands on the same sequences, and the loop end to end with the
    front end's test double."""
    if shutil.which("g++") is None:
        pytest.fail("g++ missing") if IN_CI else pytest.skip("needs g++")
    proc = subprocess.run(["make", "-s", "firmware-listen-test"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"\d+ tests, 0 failures", proc.stdout)


@pytest.fixture(scope="module")
def listen_sim(smoke_build: Path) -> Path:
    """The firmware simulator of the listener (``make firmware-listen-sim``) on the smoke model."""
    if shutil.which("g++") is None:
        pytest.fail("g++ missing") if IN_CI else pytest.skip("needs g++")
    return build_listen_sim(smoke_build, "tflm")


def build_listen_sim(model: Path, engine: str) -> Path:
    """``make firmware-listen-sim ENGINE=<engine>`` for the model of the build folder ``model``; the binary."""
    proc = subprocess.run(["make", "-s", "-j2", "firmware-listen-sim", f"ENGINE={engine}", f"FW_MODEL={model}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=SIM_BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return model / "firmware" / f"listen-{engine}" / "listen_sim"


@pytest.mark.firmware
@pytest.mark.slow
def test_listener_on_the_mock_provider(smoke_build: Path, listen_sim: Path, recording: tuple[Path, dict, list],
                                       tmp_path: Path) -> None:
    """The firmware simulator (mock audio provider, on-device front end, host TFLM, the smoke model) on a short
    constructed recording: it plays all of it and reports detections on the 250 ms grid, spaced by the refractory
    period, naming digits of the model."""
    wav, truth, _ = recording
    run = subprocess.run([str(listen_sim), str(wav)], capture_output=True, text=True,
                         timeout=SIM_RUN_TIMEOUT_S)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    meta = json.loads((smoke_build / "model_meta.json").read_text())
    assert lines[0].startswith(f"# listening model={meta['model_hash']} ")
    samples = round(truth["duration_s"] * truth["rate"])
    assert lines[-1] == f"# played {samples * 1000 // truth['rate']} ms"
    settings = RecognitionSettings.from_config()
    detections = parse_heard(lines)
    assert len(detections) == sum(line.startswith("# heard") for line in lines)
    for d in detections:
        assert d.label in meta["labels"] and not d.label.startswith("_")
        assert d.time_ms % settings.evaluate_every_ms == 0 and d.time_ms <= truth["duration_s"] * 1000
        assert settings.threshold - 0.005 <= d.score <= 1.0
    for a, b in zip(detections, detections[1:]):
        assert b.time_ms - a.time_ms >= settings.refractory_ms
    bad = subprocess.run([str(listen_sim), str(tmp_path / "absent.wav")], capture_output=True, text=True,
                         timeout=SIM_RUN_TIMEOUT_S)
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {tmp_path / 'absent.wav'}: cannot open the file"


@pytest.mark.firmware
@pytest.mark.slow
def test_native_listener_hears_what_the_tflm_listener_hears(smoke_build: Path, listen_sim: Path,
                                                           recording: tuple[Path, dict, list]) -> None:
    """The listener with the native engine (ENGINE=native, the default of every listener build) prints exactly the
    TFLM listener's lines on the recording: the engine is bit-exact with TFLM."""
    native = build_listen_sim(smoke_build, "native")
    wav = recording[0]
    runs = [subprocess.run([str(sim), str(wav)], capture_output=True, text=True, timeout=SIM_RUN_TIMEOUT_S)
            for sim in (listen_sim, native)]
    assert all(run.returncode == 0 for run in runs), [run.stderr[-1000:] for run in runs]
    assert runs[1].stdout == runs[0].stdout and "# played" in runs[0].stdout


@pytest.fixture(scope="module")
def listen_emu(smoke_build: Path) -> Path:
    """The listener built for the emulated Cortex-M4F (``make firmware-listen-emu``: CMSIS-NN TFLM, the clip loaded
    into QEMU's PSRAM at run time) on the smoke model."""
    from host.emulator import LISTEN_IMAGE, image_path
    from tests.test_emulated_firmware import require_emulator

    require_emulator()  # the ARM toolchain, QEMU and the pinned TFLM tree
    out = image_path(smoke_build).parent  # the emulated firmware's folder of test_emulated_firmware.py: shared objects
    proc = subprocess.run(["make", "-s", "-j2", "firmware-listen-emu", "ENGINE=tflm", f"FW_MODEL={smoke_build}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=SIM_BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / LISTEN_IMAGE


@pytest.mark.firmware
@pytest.mark.slow
def test_emulated_listener_hears_what_the_simulator_hears(listen_emu: Path, listen_sim: Path,
                                                          recording: tuple[Path, dict, list], tmp_path: Path) -> None:
    """The emulated listener prints exactly the simulator's lines on the recording: same front end code, same
    integer model, same RecognizeCommands. A WAV it cannot play is named in one line."""
    from host.emulator import listen_emulated

    wav, truth, _ = recording
    sim = subprocess.run([str(listen_sim), str(wav)], capture_output=True, text=True, timeout=SIM_RUN_TIMEOUT_S)
    assert sim.returncode == 0, sim.stderr[-2000:]
    emulated = listen_emulated(listen_emu, wav).lines
    assert emulated == sim.stdout.splitlines()
    assert emulated[-1] == f"# played {round(truth['duration_s'] * truth['rate']) * 1000 // truth['rate']} ms"
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000), w.writeframes(bytes(64))
    with pytest.raises(PipelineError, match=f"^{re.escape(str(stereo))}: not 16 kHz mono 16-bit PCM$"):
        listen_emulated(listen_emu, stereo)


@pytest.mark.firmware
@pytest.mark.slow
def test_emulated_listeners_features_are_the_clip_paths(smoke_build: Path, listen_emu: Path,
                                                        recording: tuple[Path, dict, list]) -> None:
    """Every window the emulated listener evaluated (its streaming front end, each frame computed once) fed the
    model the features of the clip path on that window (frontend::Compute, what HEAR runs; through the host
    binding of the same C++): the CRC-16 of each hop's int8 input equals theirs. After the first window, a hop
    computes the new audio's frames and those across the cuts only."""
    from host.emulator import listen_emulated
    from host.frontend import DeviceFrontend, library_for

    wav, truth, _ = recording
    with wave.open(str(wav), "rb") as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    fe = DeviceFrontend(library_for(smoke_build))
    settings = RecognitionSettings.from_config()
    hops = listen_emulated(listen_emu, wav).hops
    ends = list(window_ends(len(audio), truth["rate"], settings))
    assert [h.end_ms for h in hops] == [end * 1000 // truth["rate"] for end in ends]
    for hop, end in zip(hops, ends):
        assert hop.features_crc == p.crc16(fe.features(audio[end - fe.clip_samples:end]).tobytes())
    assert max(h.spectra for h in hops[1:]) <= settings.evaluate_every_ms // 10 + 6
    assert all(h.instructions >= h.frontend + h.inference > 0 for h in hops)


def test_extra_classes_are_checked() -> None:
    from data.nothing import check_extra_classes

    check_extra_classes(["_silence_", "_unknown_"])
    for bad in (["_noise_"], ["_silence_", "_silence_"]):
        with pytest.raises(PipelineError, match="extra_classes"):
            check_extra_classes(bad)


def test_silence_clips_span_levels_and_featurize(tmp_path: Path) -> None:
    """_silence_ clips: real-noise excerpts, generated noise and near-silence, at peaks within the configured range,
    written as WAVs that the front end featurizes without the speech check."""
    from data.features import FeatureParams
    from data.nothing import SILENCE_PEAK_MAX, SILENCE_PEAK_MIN, nothing_features, silence_audio, silence_clips

    noise = [np.random.default_rng(1).normal(0, 0.1, 48000).astype(np.float32)]
    clips = silence_audio(16000, 30, noise, seed=5, rate=16000)
    peaks = np.array([np.abs(c).max() for c in clips])
    assert all(c.shape == (16000,) for c in clips)
    assert peaks.min() >= SILENCE_PEAK_MIN * 0.99 and peaks.max() <= SILENCE_PEAK_MAX * 1.01
    assert peaks.max() / peaks.min() > 100  # from near-silence to loud noise
    params = FeatureParams.from_config(load_config())
    made = silence_clips(tmp_path, ["synth-noise-0", "synth-noise-1"], 3, params, tmp_path / "no-noise", seed=1,
                         cache_dir=tmp_path / "cache")
    assert len(made) == 6 and {c.source for c in made} == {"synth-noise-0", "synth-noise-1"}
    assert all(c.label == "_silence_" for c in made)
    x = nothing_features(made, params)
    assert x.shape == (6, *params.shape) and np.isfinite(x).all()
    # The data stage's extract_clips takes them from the cache (it would refuse steady noise as "not speech").
    from data.datasets import extract_clips

    x_stage, ok, skipped = extract_clips(made, params, tmp_path / "cache", skip_bad=False)
    assert len(ok) == 6 and not skipped and np.array_equal(x_stage, x)


def test_near_silence_is_never_refused_as_a_dc_offset(tmp_path: Path) -> None:
    """Generated _silence_ clips, written as the data stage writes them, are read back by the data stage's own checks:
    an excerpt of a noise recording that drifts (an offset that moves slowly) at a near-silent level once read as
    a constant offset ("constant signal") and stopped `make train` on the Speech Commands rehearsal set."""
    from data.features import read_audio
    from data.nothing import silence_audio
    from data.synth import write_wav

    t = np.arange(160000) / 16000
    drifting = [(0.3 + 0.1 * np.sin(2 * np.pi * 0.05 * t) + 1e-4 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)]
    for seed in (109, 110, 111):
        for i, clip in enumerate(silence_audio(16000, 40, drifting, seed=seed, rate=16000)):
            path = tmp_path / f"{seed}_{i}.wav"
            write_wav(path, np.round(clip * 32767).astype(np.int16), 16000)
            read_audio(path, 16000)  # raises PipelineError on a silent or constant clip
