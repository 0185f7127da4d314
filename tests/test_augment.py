"""Augmentation: audio copies are deterministic, cached, of training clips only; MFCC batches sample versions of
the right clip; per-utterance normalization removes a channel offset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.augment_audio import AudioAugmentParams, add_noise, augment_audio, augmented_features
from data.config import PipelineError, load_config
from data.datasets import Clip, load_split
from data.features import FeatureParams, apply_norm, fit_norm, read_audio
from train.augment import MfccAugmenter

SR = 16000


def _word(seed: int) -> np.ndarray:
    """A 0.5 s voiced-like burst: a few harmonics under an envelope, at SR."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR // 2) / SR
    f0 = rng.uniform(100, 200)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.3 * wave * np.hanning(t.size)).astype(np.float32)


@pytest.fixture
def clips(tmp_path: Path) -> list[Clip]:
    out = []
    for i, label in enumerate(["zero", "one", "two"]):
        (tmp_path / label).mkdir()
        path = tmp_path / label / f"spk{i}_0.wav"
        sf.write(path, _word(i), SR)
        out.append(Clip(path, label, f"spk{i}"))
    return out


def test_audio_copies_are_deterministic_cached_and_differ_from_the_original(tmp_path: Path, clips: list[Clip]) -> None:
    params = FeatureParams.from_config()
    aug = AudioAugmentParams.from_config(load_config())
    x1, idx1 = augmented_features(clips, params, aug, tmp_path / "cache")
    cached = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(cached) == len(clips) * aug.copies
    x2, idx2 = augmented_features(clips[::-1], params, aug, tmp_path / "cache2")
    # Each copy depends only on its own clip, not on which other clips are processed (folds share the cache).
    np.testing.assert_array_equal(idx1, np.repeat(np.arange(len(clips)), aug.copies))
    np.testing.assert_allclose(x1[:aug.copies], x2[-aug.copies:], atol=1e-5)
    x3, _ = augmented_features(clips, params, aug, tmp_path / "cache")  # from the cache
    np.testing.assert_array_equal(x1, x3)
    from data.features import extract_file

    assert not np.allclose(x1[0], extract_file(clips[0].path, params))


def test_a_clip_rewritten_in_place_is_augmented_again(tmp_path: Path, clips: list[Clip]) -> None:
    # Regenerated synthetic takes keep their file names; the cache must not hand back copies of the old audio.
    params = FeatureParams.from_config()
    aug = AudioAugmentParams.from_config(load_config())
    before, _ = augmented_features(clips, params, aug, tmp_path / "cache")
    sf.write(clips[0].path, _word(7), SR)
    after, _ = augmented_features(clips, params, aug, tmp_path / "cache")
    assert not np.allclose(before[:aug.copies], after[:aug.copies])
    np.testing.assert_array_equal(before[aug.copies:], after[aug.copies:])


def test_noise_is_mixed_at_the_requested_snr() -> None:
    rng = np.random.default_rng(0)
    speech = _word(3)
    for snr in (0.0, 10.0, 20.0):
        noisy = add_noise(speech, snr, [], rng)
        active = np.abs(speech) > 0.01 * np.abs(speech).max()
        measured = 10 * np.log10(np.mean(speech[active] ** 2) / np.mean((noisy - speech) ** 2))
        assert abs(measured - snr) < 0.5


def test_real_noise_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "noise").mkdir()
    hum = (0.2 * np.sin(2 * np.pi * 50 * np.arange(SR) / SR)).astype(np.float32)
    sf.write(tmp_path / "noise" / "hum.wav", hum, SR)
    p = AudioAugmentParams.from_config(load_config(), tmp_path / "noise")
    noise = [read_audio(tmp_path / "noise" / "hum.wav", SR)]
    # With only real noise and a 50 Hz hum, the added signal is (a scaled excerpt of) that hum in some draws.
    seen_hum = False
    for seed in range(8):
        out = add_noise(np.zeros(SR, np.float32) + _word(0).mean(), 10.0, noise, np.random.default_rng(seed))
        spectrum = np.abs(np.fft.rfft(out - out.mean()))
        seen_hum |= int(np.argmax(spectrum)) == 50
    assert seen_hum
    assert augment_audio(_word(1), SR, p, noise, np.random.default_rng(0)).dtype == np.float32
    with pytest.raises(PipelineError, match="noise folder does not exist"):
        AudioAugmentParams.from_config(load_config(), tmp_path / "missing")


def test_unknown_augment_key_is_rejected() -> None:
    with pytest.raises(PipelineError, match="unknown keys"):
        AudioAugmentParams.from_config({"augment_audio": {"copies": 1, "reverb": 0.5}})


# Every MFCC-domain augmentation off.
OFF = {"time_shift_frames": 0, "gain_std": 0, "noise_std": 0, "time_masks": 0, "time_mask_frames": 0,
       "coeff_masks": 0, "coeff_mask_width": 0, "mixup_alpha": 0}


def test_mfcc_batches_visit_every_clip_with_its_own_versions() -> None:
    n, copies = 7, 3
    origin = np.concatenate([np.arange(n), np.repeat(np.arange(n), copies)])
    x = np.repeat(origin[:, None, None].astype(np.float32), 4, axis=1).repeat(2, axis=2)  # row value = its clip
    y = origin.copy()
    repeats = np.array([1, 1, 1, 3, 1, 1, 2])
    aug = MfccAugmenter(x, y, n, 4, OFF, 0, origin, repeats)
    xs, targets = zip(*(aug[i] for i in range(len(aug))))
    xs, targets = np.concatenate(xs), np.concatenate(targets)
    np.testing.assert_array_equal(targets, np.eye(n)[targets.argmax(1)])  # one-hot without mixup
    ys = targets.argmax(1)
    assert len(ys) == repeats.sum()
    np.testing.assert_array_equal(np.bincount(ys, minlength=n), repeats)
    np.testing.assert_array_equal(xs[:, 0, 0], ys)  # each visit took a version of the clip it labels
    picked = {int(r) for _ in range(20) for r in (aug.on_epoch_end() or aug.order)}
    assert picked == set(range(len(origin)))  # over epochs every version (original and copies) is used


def test_mixup_mixes_features_and_targets_alike_and_keeps_each_clip_the_majority() -> None:
    n, labels = 64, 5
    y = np.arange(n) % labels
    # Each clip's features are its one-hot label (in the first frame): mixed features must equal mixed targets.
    x = np.zeros((n, 3, labels), np.float32)
    x[np.arange(n), 0, y] = 1.0
    aug = MfccAugmenter(x, y, labels, n, OFF | {"mixup_alpha": 0.4}, 3)
    xs, targets = aug[0]
    order_y = y[aug.order]
    np.testing.assert_allclose(xs[:, 0], targets, atol=1e-6)
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-6)
    assert np.all(targets[np.arange(n), order_y] >= 0.5)  # every clip keeps at least half of itself
    assert 0 < np.mean(targets.max(1) < 1.0)  # and some are really mixed
    again = MfccAugmenter(x, y, labels, n, OFF | {"mixup_alpha": 0.4}, 3)[0]  # same seed, same batch
    np.testing.assert_array_equal(again[1], targets)


def test_augment_settings_must_name_every_key() -> None:
    x, y = np.zeros((4, 3, 2), np.float32), np.arange(4) % 2
    with pytest.raises(PipelineError, match=r"unknown keys \['reverb'\], missing keys \[\]"):
        MfccAugmenter(x, y, 2, 2, OFF | {"reverb": 1}, 0)
    with pytest.raises(PipelineError, match=r"unknown keys \[\], missing keys \['mixup_alpha'\]"):
        MfccAugmenter(x, y, 2, 2, {k: v for k, v in OFF.items() if k != "mixup_alpha"}, 0)
    with pytest.raises(PipelineError, match=r"mixup_alpha must be >= 0 \(0: off\), got -1"):
        MfccAugmenter(x, y, 2, 2, OFF | {"mixup_alpha": -1}, 0)


def test_per_utterance_mean_removes_a_channel_offset() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (20, 100, 13)).astype(np.float32)
    channel = rng.normal(0, 5, (20, 1, 13)).astype(np.float32)  # a fixed filter/gain per recording
    norm = fit_norm(x, True)
    np.testing.assert_allclose(apply_norm(x + channel, norm), apply_norm(x, norm), atol=1e-4)
    assert not np.allclose(apply_norm(x + channel, fit_norm(x, False)), apply_norm(x, fit_norm(x, False)), atol=1e-2)


@pytest.mark.slow
def test_data_stage_augments_training_clips_only(smoke_build: Path) -> None:
    feats = smoke_build / "features"
    train, aug = load_split(feats / "train.npz"), load_split(feats / "train_aug.npz")
    held = {str(s) for split in ("val", "test") for s in load_split(feats / f"{split}.npz")["sources"]}
    assert len(aug["y"]) > 0
    assert set(aug["ids"].tolist()) <= set(train["ids"].tolist())
    assert not set(aug["sources"].tolist()) & held
