"""The audio front end: parameters, shapes, resampling, padding/cropping."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from data.config import PipelineError
from data.features import FeatureParams, apply_norm, extract_file, fit_length, fit_norm, mfcc, read_audio, trim


def tone(rate: int, seconds: float, freqs: tuple[float, ...] = (440.0, 1250.0, 2600.0)) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.2 * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def test_default_params_give_100_by_13() -> None:
    p = FeatureParams.from_config()
    assert (p.win_length, p.hop_length, p.num_frames, p.shape) == (400, 160, 100, (100, 13))


@pytest.mark.parametrize("kwargs, message", [
    ({"num_mfcc": 50}, "features.num_mfcc must be in 1..num_mels (40), got 50"),
    ({"fmax": 9000.0}, "features: need 0 <= fmin < fmax <= sample_rate/2, got fmin=20.0 fmax=9000.0"),
    ({"hop_ms": 30.0}, "features.hop_ms must be in (0, window_ms], got 30.0"),
    ({"n_fft": 256}, "features.n_fft (256) must be >= the window (400 samples)"),
    ({"trim_db": -1.0}, "features.trim_db must be >= 0 (0: no trimming), got -1.0"),
])
def test_invalid_params_raise_exact_message(kwargs: dict, message: str) -> None:
    with pytest.raises(PipelineError) as e:
        dataclasses.replace(FeatureParams.from_config(), **kwargs)
    assert str(e.value) == message


def test_fit_length_pads_centred_and_crops_loudest_window() -> None:
    short = np.ones(10, np.float32)
    padded = fit_length(short, 20)
    assert padded.shape == (20,) and padded[:5].sum() == 0 and padded[5:15].sum() == 10 and padded[15:].sum() == 0
    on_grid = fit_length(short, 20, grid=4)  # the padding before the clip rounded down to the grid (the hop)
    assert on_grid[:4].sum() == 0 and on_grid[4:14].sum() == 10 and on_grid[14:].sum() == 0
    long = np.zeros(100, np.float32)
    long[60:70] = 1.0
    cropped = fit_length(long, 30)
    assert cropped.shape == (30,) and cropped.sum() == 10


def test_trim_cuts_quiet_edges_so_the_word_lands_in_the_same_place() -> None:
    p = FeatureParams.from_config()
    word = tone(16000, 0.3)
    rng = np.random.default_rng(0)
    floor = lambda n: rng.normal(0, 1e-3, n).astype(np.float32)  # noise 40 dB below the word: below trim_db
    early = np.concatenate([floor(1600), word, floor(8000)])
    late = np.concatenate([floor(9000), word, floor(600)])
    assert abs(len(trim(early, p)) - len(word)) <= p.win_length + 2 * p.hop_length  # frames overlap the edges

    def word_frames(x: np.ndarray, params: FeatureParams) -> np.ndarray:
        c0 = mfcc(x, params)[:, 0]
        return np.flatnonzero(c0 > c0.max() - 20)

    a, b = word_frames(early, p), word_frames(late, p)
    assert abs(a[0] - b[0]) <= 1 and abs(a[-1] - b[-1]) <= 1 and 40 <= (a[0] + a[-1]) / 2 <= 60
    # without trimming the word sits where the recording put it
    untrimmed = dataclasses.replace(FeatureParams.from_config(), trim_db=0.0)
    assert len(trim(early, untrimmed)) == len(early)
    assert word_frames(late, untrimmed)[0] - word_frames(early, untrimmed)[0] > 30


def test_8khz_and_16khz_recordings_give_matching_features(tmp_path) -> None:
    """fmax below 4 kHz: the same band-limited sound recorded at 8 and 16 kHz yields nearly the same MFCCs."""
    p = FeatureParams.from_config()
    for rate in (16000, 8000):  # a word-like envelope (100 ms fades): a steady tone is refused as not speech
        fade = np.minimum(1.0, np.minimum(np.arange(int(rate * 0.6)), np.arange(int(rate * 0.6))[::-1]) / (0.1 * rate))
        sf.write(tmp_path / f"a{rate // 1000}.wav", tone(rate, 0.6) * fade, rate, subtype="PCM_16")
    a, b = extract_file(tmp_path / "a16.wav", p), extract_file(tmp_path / "a8.wav", p)
    assert a.shape == b.shape == (100, 13)
    voiced = slice(25, 75)  # away from the clip edges, where resampling filters ring
    assert np.abs(a[voiced] - b[voiced]).mean() < 0.05 * np.abs(a[voiced]).mean()


def test_stereo_and_float_wavs_are_mixed_to_mono(tmp_path) -> None:
    mono = tone(16000, 0.5)
    sf.write(tmp_path / "stereo.wav", np.stack([mono, mono], axis=1), 16000, subtype="FLOAT")
    out = read_audio(tmp_path / "stereo.wav", 16000)
    # read as the 16-bit samples a device hears: rounded to the nearest step of 1/32768
    np.testing.assert_allclose(out, mono, atol=0.5 / 32768 + 1e-9)
    assert np.array_equal(out * 32768, np.round(out * 32768))


@pytest.mark.parametrize("per_utterance_mean", [False, True])
def test_norm_round_trip(per_utterance_mean: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, (50, 100, 13)).astype(np.float32)
    norm = fit_norm(x, per_utterance_mean)
    z = apply_norm(x, norm).reshape(-1, 13)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)


def test_norm_clip_bounds_outliers_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (20, 100, 13)).astype(np.float32)
    x[0, :5, 0] = -50.0  # silence frames: far below the rest
    norm = fit_norm(x, False, clip=3.0)
    z, unclipped = apply_norm(x, norm), apply_norm(x, fit_norm(x, False))
    assert z.min() == -3.0 and z.max() <= 3.0
    inside = np.abs(unclipped) < 3.0
    np.testing.assert_array_equal(z[inside], unclipped[inside])
    with pytest.raises(PipelineError, match="normalization.clip must be >= 0"):
        fit_norm(x, False, clip=-1.0)
    with pytest.raises(PipelineError, match=r"lack \['clip'\]"):
        apply_norm(x, {k: v for k, v in norm.items() if k != "clip"})
