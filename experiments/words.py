"""Keyword models from text measured on real speakers (issue 28, docs/words.md).

    python -m experiments.words eval-set [--out build/words_eval] [--words "..."]
    python -m experiments.words screen --variants base,no-confusables,... [--seeds 3] [--root build/words-screen]
    python -m experiments.words rescore [--root build/words-screen]
    python -m experiments.words listen [--build build] [--stream-words 60]

``eval-set`` builds the real-speaker test folder for ``make evaluate DATA=...`` from ``../shared/data``: every
target word's Speech Commands recordings (never used in training); ``_unknown_`` from the other words of
``speech_commands_words`` and the digits of ``speech_commands_digits``; ``_silence_`` from 1 s cuts of the held-out
part of its ``_background_noise_`` recordings (the part after ``data.nothing.TRAIN_NOISE_FRACTION``, which no
training reads: training noise is the shipped sample's first 15 s). No real speech trains a vocabulary, so every
speaker is unseen.

``screen`` runs the real data stage (``python -m data --words``) once per variant (a ``config.toml`` with the
variant's overrides, synthesized takes and features shared through one cache), trains one model per seed,
converts it to int8 and scores the test folder on TFLM (what the board computes): top-1 over the 12 classes,
per-class recall, false accepts of unknown words and of noise, on the whole folder and on its two speaker halves
(:func:`half_of`): ``dev`` chooses a recipe, ``test`` reports it, so the adopted figure is not the luckiest of many
variants on the same clips. Each seed's scores are kept (``<variant>/seed<N>/scores.npz``) and ``rescore``
recomputes every figure from them, with ``[answer] min_confidence`` thresholds applied (:func:`decide`). Writes
``<root>/screen.json`` and ``screen.md``.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.config import REPO_ROOT, PipelineError, apply_overrides, load_config, run_main
from data.datasets import DIGITS, extract_clips, load_folder
from data.features import FeatureParams
from data.nothing import LOW_CONFIDENCE, SILENCE, UNKNOWN, answer, is_nothing, noise_recordings
from data.synth import write_wav
from data.words import label_of, parse_words

SHARED = REPO_ROOT.parent / "shared" / "data"
WORDS_DIR = SHARED / "speech_commands_words"
DIGITS_DIR = SHARED / "speech_commands_digits"
MLPERF_WORDS = "yes no up down left right on off stop go"
# _silence_ test clips cut from each held-out noise part (6 recordings, 18-29 s held out each).
SILENCE_CUTS_PER_RECORDING = 10
# The test folder's two halves by speaker hash: recipes are chosen on "dev" and reported on "test".
HALVES = ("dev", "test")
# min_confidence values the decision rule is scored with (0: plain argmax).
MIN_CONFIDENCES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)
SCORES_FILE = "scores.npz"
# More generic unknown words for the `more-unknown-words` variant: common English words, none a Speech Commands
# word (the test folder's unknown words) nor one that contains a target's pronunciation.
MORE_UNKNOWN_WORDS = """
    light bring carry drink eat sleep walk talk sing dance read draw cook clean wash build break fix watch
    listen think need like love hate help find lose keep give take make send call wait stay leave come turn move
    push pull lift hold drop throw catch kick jump run swim fly drive ride climb sit stand lie rest smile laugh
    cry shout whisper ask answer tell show hide seek check count pay buy sell rent share borrow lend cut burn
    melt freeze boil pour fill empty orange lemon cherry grape melon carrot potato tomato onion pepper garlic
    butter cheese bread cake cookie candy sugar salt honey milk juice tea soup rice pasta pizza salad sandwich
    burger chicken turkey beef pork egg bacon sofa clock mirror picture curtain carpet pillow blanket towel
    basket bottle glass plate bowl spoon fork knife kettle oven fridge sink shower garage fence gate roof floor
    wall ceiling stairs hallway bedroom bathroom school teacher student doctor nurse driver farmer painter
    singer player captain soldier pilot police river lake ocean mountain forest desert island valley beach field
    meadow bridge tunnel tower castle village market spring autumn sunny cloudy rainy windy storm thunder
    lightning rainbow sunshine sad angry tired hungry thirsty busy lazy brave quiet loud gentle simple famous
    yellow purple silver pink brown monday tuesday wednesday thursday friday saturday sunday january february
    march april june july august minute hour week month season birthday holiday weekend party picnic movie story
    letter message camera laptop tablet keyboard printer battery charger cable engine rocket planet robot
    machine
""".split()
# Variants of the screen: dataset and config.toml overrides (section.key=value).
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "base": ("sample+synth", []),
    "no-confusables": ("sample+synth", ["words.confusable_share=0.0"]),
    "more-confusables": ("sample+synth", ["words.confusable_share=0.8"]),
    "fewer-voices": ("sample+synth", ["synth.speakers=48", "synth.flite_speakers=30"]),
    "one-take": ("sample+synth", ["words.takes_per_word=1"]),
    "no-audio-augment": ("sample+synth", ["augment_audio.copies=0"]),
    "strong-noise": ("sample+synth", ["augment_audio.snr_db_min=0.0", "augment_audio.snr_db_max=20.0"]),
    "wide-voice": ("sample+synth", ["augment_audio.speed_min=0.8", "augment_audio.speed_max=1.2",
                                    "augment_audio.pitch_semitones=3.5"]),
    "more-train": ("sample+synth", ["dataset.val_percent=10", "dataset.test_percent=5"]),
    "unknown-x2": ("sample+synth", ["words.unknown_share=4.0"]),
    "unknown-half": ("sample+synth", ["words.unknown_share=1.0"]),
    "rooms-half": ("sample+synth", ["words.room_share=0.5"]),
    "rooms-all": ("sample+synth", ["words.room_share=1.0"]),
    "lstm-32": ("sample+synth", ["model.lstm_units=32"]),
    "more-unknown-words": ("sample+synth", ["words.unknown_words=" + json.dumps(
        load_config()["words"]["unknown_words"] + MORE_UNKNOWN_WORDS)]),
    "kokoro": ("sample+synth", ["words.kokoro_voices=32"]),
    "kokoro-64": ("sample+synth", ["words.kokoro_voices=64"]),
    "kokoro-128": ("sample+synth", ["words.kokoro_voices=128"]),
    "kokoro-64-fewer": ("sample+synth", ["words.kokoro_voices=64", "synth.speakers=48", "synth.flite_speakers=30"]),
    "kokoro-128-fewer": ("sample+synth", ["words.kokoro_voices=128", "synth.speakers=48", "synth.flite_speakers=30"]),
    "kokoro-no-espeak": ("sample+synth", ["words.kokoro_voices=32", "synth.speakers=0"]),
}


def build_eval_set(out: Path, words: list[str], params: FeatureParams) -> dict:
    """Write the real-speaker test folder ``out/<label>/*.wav`` (copies; replaced whole) and return its counts."""
    if not WORDS_DIR.is_dir() or not DIGITS_DIR.is_dir():
        raise PipelineError(f"{SHARED}: the shared real recordings are not here (speech_commands_words, "
                            f"speech_commands_digits)")
    if out.exists():
        shutil.rmtree(out)
    labels = [label_of(w) for w in words]
    folders = sorted(p.name for p in WORDS_DIR.iterdir() if p.is_dir() and not is_nothing(p.name))
    missing = [lab for lab in labels if lab not in folders]
    if missing:
        raise PipelineError(f"{WORDS_DIR}: no recordings of {missing}")
    others = [f for f in folders if f not in labels]
    clips = [c for c in load_folder(WORDS_DIR, labels + others)]
    clips += load_folder(DIGITS_DIR, [d for d in DIGITS if d not in labels])
    for c in clips:
        label = c.label if c.label in labels else UNKNOWN
        dest = out / label / (f"{c.label}-{c.path.name}" if label == UNKNOWN else c.path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(c.path, dest)
    n = params.clip_samples
    (out / SILENCE).mkdir(parents=True)
    held_out = noise_recordings(DIGITS_DIR / "_background_noise_", params.sample_rate, "test")
    for i, audio in enumerate(held_out):
        starts = np.linspace(0, len(audio) - n, SILENCE_CUTS_PER_RECORDING).astype(int)
        for k, start in enumerate(starts):
            cut = np.round(audio[start:start + n] * 32767).astype(np.int16)
            write_wav(out / SILENCE / f"noise{i}-cut{k}.wav", cut, params.sample_rate)
    counts = {lab: len(list((out / lab).glob("*.wav"))) for lab in labels + [SILENCE, UNKNOWN]}
    summary = {"labels": labels + [SILENCE, UNKNOWN], "counts": counts,
               "speakers": len({c.source for c in clips})}
    (out / "eval_set.json").write_text(json.dumps(summary, indent=1))
    return summary


def half_of(name: str) -> str:
    """The half of the test folder a clip belongs to (``name``: its file name there): a speaker's clips, whatever
    their word, by a hash of the speaker; the noise cuts alternate (``noise<i>-cut<k>``: by ``k``), so both halves
    hold cuts of every recording."""
    stem = Path(name).stem
    if "_nohash_" not in stem:
        return HALVES[int(stem.rsplit("cut", 1)[-1]) % len(HALVES)]
    speaker = stem.split("_nohash_")[0].split("-")[-1]
    return HALVES[int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % len(HALVES)]


def decide(probs: np.ndarray, labels: list[str], min_confidence: float) -> np.ndarray:
    """Predicted label indices under issue 30's answer rule: a target word whose probability stays below
    ``min_confidence`` is a low-confidence answer, not a word: scored as ``_unknown_``."""
    pred = probs.argmax(1)
    low = np.array([answer(labels[p], bool(row[p] >= min_confidence)) == LOW_CONFIDENCE for p, row in zip(pred, probs)],
                   bool)
    return np.where(low, labels.index(UNKNOWN), pred)


def keyword_metrics(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Top-1 over all classes two ways, per-class recall and false accepts.

    ``top1``: every class weighs like MLPerf Tiny's test set, where ``_silence_`` and ``_unknown_`` each hold about
    as many clips as one word (targets weigh their clip counts, each nothing-class the mean target count);
    ``top1_all_clips``: plain accuracy over every clip of the folder (its many unknown clips dominate).
    ``false_accept_unknown`` / ``_noise``: share of ``_unknown_`` / ``_silence_`` clips taken for a target word.
    """
    recall = {lab: float(np.mean(pred[y == i] == i)) for i, lab in enumerate(labels) if np.any(y == i)}
    targets = [i for i, lab in enumerate(labels) if not is_nothing(lab)]
    counts = {i: int(np.sum(y == i)) for i in range(len(labels))}
    mean_target = float(np.mean([counts[i] for i in targets]))
    weights = {i: (counts[i] if i in targets else mean_target) for i in range(len(labels)) if counts[i]}
    top1 = sum(w * recall[labels[i]] for i, w in weights.items()) / sum(weights.values())
    is_target = np.isin(pred, targets)
    out = {"top1": float(top1), "top1_all_clips": float(np.mean(pred == y)), "recall": recall,
           "target_recall_mean": float(np.mean([recall[labels[i]] for i in targets]))}
    for name, label in (("false_accept_unknown", UNKNOWN), ("false_accept_noise", SILENCE)):
        mask = y == labels.index(label)
        out[name] = float(np.mean(is_target[mask])) if mask.any() else None
    return out


def write_toml(config: dict, path: Path) -> None:
    """A configuration as TOML (JSON spells every value this configuration holds as TOML does)."""
    lines = []
    for section, values in config.items():
        lines += [f"[{section}]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()] + [""]
    path.write_text("\n".join(lines))


def run_variant(name: str, root: Path, words: str, seeds: list[int], eval_dir: Path,
                smoke: bool) -> list[dict[str, Any]]:
    """Data stage (a subprocess with the variant's config.toml), then per seed: train, int8, TFLM on the test
    folder."""
    from data.artifacts import FLOAT_FILE
    from data.datasets import load_split
    from host.evaluate import run_backends
    from host.runtime import Runtime
    from quantize.build import build_int8
    from train.fit import schedule, train_model

    dataset, overrides = VARIANTS[name]
    config = apply_overrides(load_config(), overrides)
    vdir = root / name
    vdir.mkdir(parents=True, exist_ok=True)
    for shared in ("cache", "words"):  # synthesized takes and features are shared by every variant
        (root / shared).mkdir(exist_ok=True)
        if not (vdir / shared).exists():
            (vdir / shared).symlink_to(Path("..") / shared)
    write_toml(config, vdir / "config.toml")
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "data", "--dataset", dataset, "--words", words, "--build", str(vdir)]
    env = os.environ | {"PIPELINE_CONFIG": str((vdir / "config.toml").resolve())}
    if subprocess.run(cmd + (["--smoke"] if smoke else []), env=env, cwd=REPO_ROOT).returncode:
        raise PipelineError(f"variant {name}: the data stage failed")
    data_seconds = time.perf_counter() - start
    features = vdir / "features"
    train, val = load_split(features / "train.npz"), load_split(features / "val.npz")
    train_aug = load_split(features / "train_aug.npz")
    labels = [str(s) for s in train["labels"]]
    params = FeatureParams.from_config(config)
    clips = load_folder(eval_dir, labels)
    x_eval, ok, _ = extract_clips(clips, params, root / "cache" / "features", False, desc="features test folder")
    y_eval = np.array([labels.index(c.label) for c in ok])
    names = np.array([c.path.name for c in ok])
    epochs, min_updates = schedule(config, smoke)
    results = []
    for seed in seeds:
        t0 = time.perf_counter()
        model, norm, history = train_model(train, val, config, seed, epochs, None, "bilstm", verbose=0,
                                          train_aug=train_aug, min_updates=min_updates)
        out = vdir / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / FLOAT_FILE)
        build_int8(out, model, "bilstm", norm, train, params.to_dict(), f"words {name}", config)
        rt = Runtime.open(out, warn=False)
        scores = run_backends(x_eval, rt)
        np.savez(out / SCORES_FILE, tflm=rt.probabilities("tflm", scores["tflm"]), float=scores["float"], y=y_eval,
                 names=names, labels=np.array(labels))
        result = {"variant": name, "seed": seed, "epochs": len(history["loss"]),
                  "train_clips": int(len(train["y"])), "per_label_train": np.bincount(
                      train["y"], minlength=len(labels)).tolist(),
                  "data_seconds": data_seconds, "train_seconds": time.perf_counter() - t0} | score_seed(out)
        print(f"  {name} seed {seed}: top-1 {result['tflm']['top1']:.3f} (float {result['float']['top1']:.3f}; "
              f"dev {result['tflm_dev']['top1']:.3f}, test {result['tflm_test']['top1']:.3f}), FA unknown "
              f"{result['tflm']['false_accept_unknown']:.3f}, FA noise {result['tflm']['false_accept_noise']:.3f}",
              flush=True)
        results.append(result)
    return results


def score_seed(seed_dir: Path) -> dict[str, Any]:
    """A seed's figures from its kept scores: ``tflm``/``float`` on the whole folder, ``tflm_dev``/``tflm_test`` on
    its halves, and ``answer``: the TFLM figures of every half under each ``MIN_CONFIDENCES`` threshold."""
    with np.load(seed_dir / SCORES_FILE) as z:
        probs, y, names, labels = z["tflm"], z["y"], z["names"], [str(s) for s in z["labels"]]
        out: dict[str, Any] = {"tflm": keyword_metrics(y, probs.argmax(1), labels),
                               "float": keyword_metrics(y, z["float"].argmax(1), labels)}
    half = np.array([half_of(str(n)) for n in names])
    for h in HALVES:
        out[f"tflm_{h}"] = keyword_metrics(y[half == h], probs[half == h].argmax(1), labels)
    out["answer"] = {f"{c:g}": {h: keyword_metrics(y[m], decide(probs[m], labels, c), labels)
                                for h, m in (("all", half != ""), *((h, half == h) for h in HALVES))}
                     for c in MIN_CONFIDENCES}
    return out


def rescore(root: Path, eval_dir: Path) -> list[dict[str, Any]]:
    """Every result of ``<root>/screen.json`` recomputed from its seed's scores (a seed trained before scores were
    kept is scored again from its saved int8 model on TFLM)."""
    from host.evaluate import run_backends
    from host.runtime import Runtime

    results = json.loads((root / "screen.json").read_text())["results"]
    for r in results:
        seed_dir = root / r["variant"] / f"seed{r['seed']}"
        if not (seed_dir / SCORES_FILE).exists():
            rt = Runtime.open(seed_dir, warn=False)
            ok = [c for c in load_folder(eval_dir, rt.labels)]
            x, ok, _ = extract_clips(ok, rt.params, root / "cache" / "features", False, desc="features test folder")
            scores = run_backends(x, rt)
            np.savez(seed_dir / SCORES_FILE, tflm=rt.probabilities("tflm", scores["tflm"]), float=scores["float"],
                     y=np.array([rt.labels.index(c.label) for c in ok]), names=np.array([c.path.name for c in ok]),
                     labels=np.array(rt.labels))
        r.update(score_seed(seed_dir))
    return results


def _mean_worst(rs: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Mean and worst seed of a figure (worst: the lowest accuracy, the highest false-accept rate)."""
    values = [r[key] for r in rs]
    worst = max if key.startswith("false_accept") else min
    return {"mean": float(np.mean(values)), "worst": float(worst(values))}


def summarize(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean and worst seed of every variant's TFLM figures: on the whole folder, on each half, and under each
    ``min_confidence`` threshold (``answer``)."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["variant"] for r in results):
        runs = [r for r in results if r["variant"] == name]
        rs = [r["tflm"] for r in runs]
        row: dict[str, Any] = {"seeds": len(rs)}
        for key in ("top1", "target_recall_mean", "top1_all_clips", "false_accept_unknown", "false_accept_noise"):
            row[key] = _mean_worst(rs, key)
        row["recall"] = {lab: float(np.mean([r["recall"][lab] for r in rs])) for lab in rs[0]["recall"]}
        if all(f"tflm_{h}" in r for r in runs for h in HALVES):
            for h in HALVES:
                row[h] = {key: _mean_worst([r[f"tflm_{h}"] for r in runs], key)
                          for key in ("top1", "target_recall_mean", "false_accept_unknown")}
            row["answer"] = {c: {h: {key: _mean_worst([r["answer"][c][h] for r in runs], key)
                                     for key in ("top1", "target_recall_mean", "false_accept_unknown",
                                                 "false_accept_noise")}
                                 for h in ("all",) + HALVES}
                             for c in runs[0]["answer"]}
        out[name] = row
    return out


def write_markdown(path: Path, summary: dict[str, dict[str, Any]], eval_set: dict) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in eval_set["counts"].items())
    lines = ["# Keyword models from text on real speakers", "",
             f"Test folder: {counts} (int8 on TFLM). top-1: MLPerf-style weights (`_silence_` and `_unknown_` "
             "each weigh one word); FA: share of unknown-word / noise clips taken for a target word; dev/test: the "
             "folder's two halves by speaker hash (choose on dev, report test).", "",
             "| variant | seeds | top-1 mean | top-1 worst | dev top-1 mean | dev worst | test top-1 mean | test worst "
             "| word recall mean | FA unknown mean | FA noise mean |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in summary.items():
        halves = " | ".join(f"{row[h]['top1']['mean']:.3f} | {row[h]['top1']['worst']:.3f}" if h in row else "- | -"
                            for h in HALVES)
        lines.append(f"| {name} | {row['seeds']} | {row['top1']['mean']:.3f} | {row['top1']['worst']:.3f} | "
                     f"{halves} | {row['target_recall_mean']['mean']:.3f} | "
                     f"{row['false_accept_unknown']['mean']:.3f} | {row['false_accept_noise']['mean']:.3f} |")
    labels = list(next(iter(summary.values()))["recall"])
    lines += ["", "Per-class recall (mean over seeds):", "", "| variant | " + " | ".join(labels) + " |",
              "| --- |" + " --- |" * len(labels)]
    for name, row in summary.items():
        lines.append(f"| {name} | " + " | ".join(f"{row['recall'][lab]:.2f}" for lab in labels) + " |")
    lines += ["", "The answer rule (`[answer] min_confidence`: a target below it is not a word), mean over seeds, "
              "top-1 / FA unknown:", "", "| variant | min_confidence | all | dev | test |", "| --- | --- | --- | --- | --- |"]
    for name, row in summary.items():
        for c, by_half in row.get("answer", {}).items():
            lines.append(f"| {name} | {c} | " + " | ".join(
                f"{by_half[h]['top1']['mean']:.3f} / {by_half[h]['false_accept_unknown']['mean']:.3f}"
                for h in ("all",) + HALVES) + " |")
    path.write_text("\n".join(lines) + "\n")


def listen(build: Path, words: int, seed: int) -> dict[str, Any]:
    """The listener on a synthesized stream: ``words`` takes of held-out synthetic speakers (the test split:
    targets and other words) between background noise and silence (:func:`host.long_recording.build_recording`),
    through the host mirror and the firmware simulator (``make firmware-listen-sim``); its ``# heard`` lines scored
    against the targets (a detection of a target inside another word's span is a false alarm)."""
    from experiments.continuous import build_simulator, run_simulator
    from host.long_recording import build_recording
    from host.recognize import RecognitionSettings, parse_heard, score_detections, stream
    from host.runtime import Runtime
    from data.features import read_audio

    rt = Runtime.open(build, warn=False)
    split = rt.test_split()
    # Relative clip paths are relative to where the data stage ran: the folder holding the build folder.
    pool = sorted((build.resolve().parent / str(p), rt.labels[int(y)]) for p, y in zip(split["ids"], split["y"])
                  if rt.labels[int(y)] != SILENCE)
    wav = build / "words_listen" / "stream.wav"
    truth = build_recording(wav, pool, words, rt.params.sample_rate, seed)
    targets = [w for w in truth["words"] if not is_nothing(w["label"])]
    audio = read_audio(wav, rt.params.sample_rate, 3600.0)
    host = stream(audio, rt, RecognitionSettings.from_config())
    lines, _ = run_simulator(build_simulator(build), wav)
    device = parse_heard(lines)
    out = {"words": len(truth["words"]), "targets": len(targets), "seconds": truth["duration_s"],
           "host": score_detections(host, targets, truth["duration_s"]),
           "firmware_sim": score_detections(device, targets, truth["duration_s"]),
           "same_detections": sorted({(d.label, d.time_ms) for d in device}) == sorted(
               {(d.label, d.time_ms) for d in host}),
           "heard_lines": [ln for ln in lines if ln.startswith("# heard")]}
    (build / "words_listen" / "listen.json").write_text(json.dumps(out, indent=1))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.words", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("eval-set", "screen", "rescore", "listen"))
    p.add_argument("--build", type=Path, default=Path("build"), help="listen: the built model")
    p.add_argument("--stream-words", type=int, default=60, help="listen: words in the stream")
    p.add_argument("--words", default=MLPERF_WORDS)
    p.add_argument("--out", type=Path, default=Path("build/words_eval"), help="eval-set: the test folder")
    p.add_argument("--variants", default="base", help=f"screen: comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--root", type=Path, default=Path("build/words-screen"))
    p.add_argument("--fresh", action="store_true", help="screen: retrain seeds already in screen.json")
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)
    words = parse_words(a.words)
    params = FeatureParams.from_config(load_config())
    if a.command == "listen":
        r = listen(a.build, a.stream_words, seed=7)
        for name in ("host", "firmware_sim"):
            print(f"{name}: {r[name]['hits']}/{r[name]['words']} target words heard, {r[name]['false_alarms']} false "
                  f"alarms ({r[name]['false_alarms_wrong_label']} on another word)")
        print(f"wrote {a.build / 'words_listen' / 'listen.json'}")
        return
    if a.command == "eval-set":
        s = build_eval_set(a.out, words, params)
        print(f"test folder {a.out}: {s['counts']}, {s['speakers']} speakers")
        return
    if a.command == "rescore":
        eval_set = json.loads((a.root / "screen.json").read_text())["eval_set"]
        results = rescore(a.root, a.root / "eval")
        write_report(a.root, eval_set, results)
        return
    unknown = [v for v in a.variants.split(",") if v not in VARIANTS]
    if unknown:
        raise PipelineError(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    a.root.mkdir(parents=True, exist_ok=True)
    eval_dir = a.root / "eval"
    eval_set = build_eval_set(eval_dir, words, params)
    seeds = [int(load_config()["train"]["seed"]) + i for i in range(a.seeds)]
    report_path = a.root / "screen.json"
    results = json.loads(report_path.read_text())["results"] if report_path.exists() else []
    for name in a.variants.split(","):
        # Seeds already measured for a variant are kept (more seeds extend a screen; --fresh remeasures).
        done = set() if a.fresh else {r["seed"] for r in results if r["variant"] == name}
        results = [r for r in results if r["variant"] != name or r["seed"] in done]
        todo = [s for s in seeds if s not in done]
        if todo:
            results += run_variant(name, a.root, ",".join(words), todo, eval_dir, a.smoke)
        write_report(a.root, eval_set, results)


def write_report(root: Path, eval_set: dict, results: list[dict[str, Any]]) -> None:
    summary = summarize(results)
    (root / "screen.json").write_text(json.dumps({"eval_set": eval_set, "summary": summary, "results": results},
                                                 indent=1))
    write_markdown(root / "screen.md", summary, eval_set)
    print(f"wrote {root / 'screen.json'}, {root / 'screen.md'}")


if __name__ == "__main__":
    run_main(main, tensorflow=True)
