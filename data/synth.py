"""The default dataset: spoken digits synthesized offline, cached as WAVs.

Two engines: espeak-ng (PyPI ``espeakng-loader``, formant synthesis, many voices x variants) and Flite (the
Debian/Ubuntu package ``flite``: the CMU voices kal, awb, rms and slt, built from recordings of real people, which
sound far closer to real speech). A synthetic *speaker* is one engine + voice + speaking rate + pitch + pitch range;
it is the unit of the train/validation/test split, so its takes never land in two splits.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import traceback
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from data.config import REPO_ROOT, PipelineError

# espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS returns samples through the callback, no audio device needed.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_PARAMETER ids (speak_lib.h).
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
# espeak_POSITION_TYPE POS_CHARACTER, flags espeakCHARS_UTF8 and espeakSSML.
_POS_CHARACTER, _CHARS_UTF8, _SSML = 1, 1, 0x10
_EE_OK = 0
# Per-take noise seeds are drawn from [0, ESPEAK_SEEDS): espeak-ng keeps its generator state in 31 bits.
ESPEAK_SEEDS = 2**31 - 1

# English voices shipped with espeak-ng and the voice variants (timbres) to combine them with.
BASE_VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
               "en-us-nyc"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3",
            "croak", "Alex", "Andy", "Annie", "belinda", "benjamin", "david", "ed", "edward", "grandma", "grandpa",
            "ian", "john", "linda", "max", "michel", "paul", "quincy", "rob", "robert", "steph", "travis", "iven",
            "norbert", "Gene", "Lee", "Mike", "Andrea", "aunty", "adam", "shelby"]
# Words may be spoken with a little context so the synthesizer varies emphasis and timing.
WORD_FORMS = ["{w}", "{w}.", "{w}!", "{w}?", "{w},"]
# Per-take SSML variation on top of the speaker: emphasis, a pause before/after the word, rate and pitch jitter (%).
EMPHASIS = ["none", "moderate", "strong", "reduced"]
PAUSE_MS = [0, 300]
TAKE_RATE_JITTER = 15
TAKE_PITCH_JITTER = 15
# Flite's voices (clustergen awb/rms/slt, diphone kal/kal16) and the ranges its speakers are drawn from:
# duration stretch in percent (100 = the voice's own tempo), target f0 mean and spread in Hz.
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
FLITE_STRETCH = (75, 140)
FLITE_F0_MEAN = (80, 230)
FLITE_F0_STD = (5, 40)
# Where `make venv` unpacks the Debian package when no system `flite` is installed (no root needed).
LOCAL_FLITE = REPO_ROOT / ".venv" / "flite" / "usr" / "bin" / "flite"
# Part of the cache manifest: raise it when the same request gives other audio, so cached sets are regenerated
# (2: espeak-ng takes are seeded and synthesized from a fresh library state, no longer from the clock).
SYNTH_VERSION = 2
# A Flite take that has not finished after this many seconds is a hung process, not a slow one.
FLITE_TIMEOUT_S = 30


def take_text(word: str, rng: random.Random) -> str:
    """SSML for one take of ``word``: random punctuation, emphasis, pauses and a small rate/pitch jitter."""
    text = rng.choice(WORD_FORMS).format(w=word)
    emphasis = rng.choice(EMPHASIS)
    if emphasis != "none":
        text = f'<emphasis level="{emphasis}">{text}</emphasis>'
    rate = 100 + rng.randint(-TAKE_RATE_JITTER, TAKE_RATE_JITTER)
    pitch = rng.randint(-TAKE_PITCH_JITTER, TAKE_PITCH_JITTER)
    before, after = (rng.randrange(*PAUSE_MS, 50) for _ in range(2))
    return (f'<speak><break time="{before}ms"/><prosody rate="{rate}%" pitch="{pitch:+d}%">{text}</prosody>'
            f'<break time="{after}ms"/></speak>')


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: the split unit."""

    voice: str
    rate: int  # espeak: words per minute; flite: duration stretch in percent
    pitch: int  # espeak: 0..99; flite: target f0 mean in Hz
    pitch_range: int  # espeak: 0..99; flite: target f0 spread in Hz
    engine: str = "espeak"

    @property
    def id(self) -> str:
        engine = "" if self.engine == "espeak" else f"{self.engine}-"
        return f"synth-{engine}{self.voice.replace('+', '_')}-r{self.rate}-p{self.pitch}-g{self.pitch_range}"


def is_synthetic(source: str) -> bool:
    """Whether a source id (see :func:`data.datasets.source_of`) is one of our synthetic speakers."""
    return source.startswith("synth-")


def make_speakers(n: int, seed: int, engine: str = "espeak") -> list[Speaker]:
    """Draw ``n`` distinct speakers of ``engine`` ("espeak" or "flite") deterministically from ``seed``."""
    rng = random.Random(seed)
    speakers: dict[str, Speaker] = {}
    while len(speakers) < n:
        if engine == "espeak":
            s = Speaker(voice=f"{rng.choice(BASE_VOICES)}+{rng.choice(VARIANTS)}", rate=rng.randrange(110, 230, 10),
                        pitch=rng.randrange(15, 90, 5), pitch_range=rng.randrange(10, 95, 5))
        else:
            s = Speaker(voice=rng.choice(FLITE_VOICES), rate=rng.randrange(*FLITE_STRETCH, 5),
                        pitch=rng.randrange(*FLITE_F0_MEAN, 10), pitch_range=rng.randrange(*FLITE_F0_STD, 5),
                        engine="flite")
        speakers[s.id] = s
    return sorted(speakers.values(), key=lambda s: s.id)


class HelperProcess:
    """A synthesizer in its own Python process (``code`` runs there): JSON requests, one line each, on its input;
    one message (:func:`_write_message`) per reply on its output; the first reply says it is ready."""

    def __init__(self, name: str, code: str, env: dict[str, str]) -> None:
        self.name = name
        # -I: no user site or PYTHON* variables.
        self._helper = subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=os.environ | env)
        self.ready = self._reply()

    def __enter__(self) -> "HelperProcess":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """End the helper process (it exits when its input closes)."""
        with contextlib.suppress(BrokenPipeError):  # it may have ended already
            self._helper.stdin.close()
        self._helper.wait()
        self._helper.stdout.close()

    def _reply(self) -> bytes:
        try:
            ok, payload = _read_message(self._helper.stdout)
        except EOFError:
            raise PipelineError(f"{self.name}: helper process ended (exit {self._helper.wait()})") from None
        if not ok:
            raise PipelineError(f"{self.name}: {payload.decode()}")
        return payload

    def request(self, request: dict) -> bytes:
        """Send one request; its reply's payload."""
        try:
            self._helper.stdin.write(json.dumps(request).encode() + b"\n")
            self._helper.stdin.flush()
        except BrokenPipeError:
            pass  # the helper has ended: reading its reply says so
        return self._reply()


class Espeak(HelperProcess):
    """espeak-ng (ctypes, synchronous mode) in a helper process that forks a fresh copy of itself for every take.

    Why: libespeak-ng seeds its noise generator (breath noise of the f2/f3/f5 variants, Klatt frication) from
    ``time(NULL)`` in ``espeak_Initialize``, and keeps state from one synthesis to the next that neither
    ``espeak_ng_SetRandSeed`` nor ``espeak_Terminate``/``espeak_Initialize`` reset (function-level statics of
    wavegen.c and klatt.c: flutter phase, automatic gain, Klatt's noise and glottal filters). A take depended on the
    second the run started and on every take synthesized before it in the process, so a resumed or smaller run gave
    other audio. The helper initialises the library once and never synthesizes; each take runs in a child forked
    from that state, with both noise generators (espeak-ng's own and libc ``rand()``, which the ``klatt 6`` variants
    use) seeded by the take. The helper is its own single-threaded interpreter, so the caller may hold threads
    (TensorFlow, tqdm) and much memory without making the forks unsafe or slow.
    """

    def __init__(self) -> None:
        code = f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); import data.synth; data.synth.espeak_helper()"
        # One BLAS thread: the helper forks and must stay single-threaded.
        super().__init__("espeak-ng", code, {"OPENBLAS_NUM_THREADS": "1"})
        self.sample_rate = int(self.ready)

    @staticmethod
    def draw_take(word: str, rng: random.Random) -> tuple[str, int, int]:
        """The random choices of one take: SSML text (:func:`take_text`), gap between words, noise seed."""
        return take_text(word, rng), rng.randrange(0, 4), rng.randrange(ESPEAK_SEEDS)

    def say(self, speaker: Speaker, text: str, word_gap: int = 0, noise_seed: int = 0) -> tuple[np.ndarray, int]:
        """Synthesize ``text`` (plain or SSML); returns int16 samples and their sample rate."""
        request = {"voice": speaker.voice, "params": [[_RATE, speaker.rate], [_PITCH, speaker.pitch],
                                                      [_RANGE, speaker.pitch_range], [_VOLUME, 100],
                                                      [_WORDGAP, word_gap]], "text": text, "seed": noise_seed}
        return np.frombuffer(self.request(request), "<i2").copy(), self.sample_rate


# A message between Espeak and its helper: ok flag, payload length, payload (samples, sample rate or error text).
_HEADER = struct.Struct("<?I")


def _write_message(stream: BinaryIO, ok: bool, payload: bytes) -> None:
    stream.write(_HEADER.pack(ok, len(payload)) + payload)
    stream.flush()


def _read_message(stream: BinaryIO) -> tuple[bool, bytes]:
    """One ``(ok, payload)`` message; EOFError when the stream ends before it is complete."""
    def exactly(n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise EOFError
        return data

    ok, size = _HEADER.unpack(exactly(_HEADER.size))
    return ok, exactly(size)


def _load_espeak() -> tuple[ctypes.CDLL, int]:
    """libespeak-ng, initialised for synchronous output; and its sample rate."""
    import espeakng_loader

    lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
    if rate <= 0:
        raise PipelineError("initialisation failed (espeakng-loader data missing?)")
    return lib, rate


def _synthesize(lib: ctypes.CDLL, request: dict) -> bytes:
    """One take, in a freshly forked process: int16 little-endian samples."""
    chunks: list[bytes] = []

    def collect(wav: ctypes.POINTER(ctypes.c_short), n: int, _events: ctypes.c_void_p) -> int:
        if wav and n > 0:
            chunks.append(ctypes.string_at(wav, 2 * n))
        return 0

    callback = _SYNTH_CALLBACK(collect)  # referenced until the synthesis returns
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_ng_SetRandSeed(request["seed"])
    ctypes.CDLL(None).srand(request["seed"])
    if lib.espeak_SetVoiceByName(request["voice"].encode()) != _EE_OK:
        raise PipelineError(f"unknown voice {request['voice']!r}")
    for param, value in request["params"]:
        lib.espeak_SetParameter(param, value, 0)
    data = request["text"].encode() + b"\0"
    buf = ctypes.create_string_buffer(data)
    if lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _SSML, None, None) != _EE_OK:
        raise PipelineError(f"synthesis of {request['text']!r} failed")
    return b"".join(chunks)


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def espeak_helper() -> None:
    """The helper process behind :class:`Espeak`: one JSON request per line on stdin, one message per take out."""
    # Ctrl-C reaches the whole process group: the caller handles it, the helper ends when its input closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Messages get their own descriptor; anything the library prints to stdout goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        lib, rate = _load_espeak()
    except PipelineError as e:
        _write_message(out, False, str(e).encode())
        return
    # Loads the English dictionary once here instead of in every take's process (all voices are English).
    lib.espeak_SetVoiceByName(BASE_VOICES[0].encode())
    _write_message(out, True, str(rate).encode())
    for line in sys.stdin.buffer:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the take's process: starts from the helper's never-used library state
            code = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "wb") as pipe:
                    try:
                        _write_message(pipe, True, _synthesize(lib, json.loads(line)))
                    except PipelineError as e:
                        _write_message(pipe, False, str(e).encode())
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            reply = pipe.read()
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code != 0:  # crashed, possibly after part of its message
            msg = f"take process failed (exit {code}) on {line.decode().strip()}".encode()
            reply = _HEADER.pack(False, len(msg)) + msg
        out.write(reply)
        out.flush()


def flite_command() -> list[str]:
    """The Flite executable: ``$FLITE``, else ``flite`` on PATH, else the copy ``make venv`` unpacked."""
    exe = os.environ.get("FLITE") or shutil.which("flite") or (str(LOCAL_FLITE) if LOCAL_FLITE.exists() else None)
    if exe is None:
        raise PipelineError("flite not found: `make venv` unpacks it on Debian/Ubuntu; elsewhere install the package "
                            "`flite`, or set [synth] flite_speakers = 0 in config.toml")
    return [exe]


class Flite:
    """Flite driven through its command line (one process per take; about 10 ms each)."""

    def __init__(self) -> None:
        self._cmd = flite_command()
        exe = Path(self._cmd[0])
        # The unpacked Debian package keeps its libraries next to the binary's tree.
        libs = [str(p) for p in (exe.parent.parent / "lib").glob("*-linux-gnu")]
        search = [p for p in libs + os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
        self._env = os.environ | ({"LD_LIBRARY_PATH": ":".join(search)} if libs else {})

    @staticmethod
    def draw_take(word: str, rng: random.Random) -> tuple[str]:
        """The random choices of one take: plain text with punctuation (Flite reads no SSML)."""
        return (rng.choice(WORD_FORMS).format(w=word),)

    def say(self, speaker: Speaker, text: str) -> tuple[np.ndarray, int]:
        """Synthesize plain ``text``; returns int16 samples and their sample rate."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "take.wav"
            cmd = self._cmd + ["-voice", speaker.voice, "--setf", f"duration_stretch={speaker.rate / 100}",
                               "--setf", f"int_f0_target_mean={speaker.pitch}",
                               "--setf", f"int_f0_target_stddev={speaker.pitch_range}", "-t", text, "-o", str(out)]
            try:
                proc = subprocess.run(cmd, env=self._env, capture_output=True, text=True, timeout=FLITE_TIMEOUT_S)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise PipelineError(f"flite: cannot synthesize {text!r} with {speaker.id} ({e})") from None
            if proc.returncode != 0 or not out.exists():
                reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                raise PipelineError(f"flite: synthesis of {text!r} with {speaker.id} failed ({reason})")
            with wave.open(str(out), "rb") as w:
                return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy(), w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write int16 mono samples."""
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    tmp.replace(path)  # atomic: an interrupted run never leaves a half-written clip in the cache


def generate(out_dir: Path, labels: list[str], n_speakers: int, takes: int, seed: int,
             n_flite: int = 0) -> Path:
    """Synthesize ``<out_dir>/<label>/<speaker-id>_<take>.wav`` for every label, speaker and take (cached).

    Parameters
    ----------
    n_speakers, n_flite : int
        Number of espeak-ng and of Flite speakers.

    Returns
    -------
    Path
        ``out_dir``; it holds ``manifest.json`` describing the generation, so a changed request regenerates.
    """
    manifest = {"version": SYNTH_VERSION, "labels": labels, "speakers": n_speakers, "takes": takes, "seed": seed,
                "voices": BASE_VOICES, "variants": VARIANTS, "forms": WORD_FORMS, "emphasis": EMPHASIS,
                "pause_ms": PAUSE_MS, "jitter": [TAKE_RATE_JITTER, TAKE_PITCH_JITTER], "flite_speakers": n_flite,
                "flite": [FLITE_VOICES, FLITE_STRETCH, FLITE_F0_MEAN, FLITE_F0_STD]}
    # Compared in its JSON form: tuples read back as lists, and the cache must still hit.
    manifest = json.loads(json.dumps(manifest))
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        if json.loads(manifest_path.read_text()) == manifest:
            return out_dir
        # Takes cached under another recipe would silently survive (same file names): start over.
        manifest_path.unlink()
        for old in out_dir.glob("*/synth-*.wav"):
            old.unlink()
    rng = random.Random(seed)
    speakers = make_speakers(n_speakers, seed) + make_speakers(n_flite, seed, "flite")
    for label in labels:
        (out_dir / label).mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    # Only a configuration with Flite speakers needs the program.
    with Espeak() as espeak:
        engines = {"espeak": espeak, "flite": Flite() if n_flite else None}
        for speaker in tqdm(speakers, desc="synthesizing speakers", unit="speaker"):
            for label in labels:
                for take in range(takes):
                    path = out_dir / label / f"{speaker.id}_{take}.wav"
                    engine = engines[speaker.engine]
                    # Drawn before the cache check: a resumed run gives every later take the same choices.
                    choices = engine.draw_take(label, rng)
                    if path.exists():
                        continue
                    samples, rate = engine.say(speaker, *choices)
                    if samples.size == 0:
                        raise PipelineError(f"{speaker.engine} produced no audio for {choices[0]!r} with {speaker.id}")
                    write_wav(path, samples, rate)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    (out_dir / "speakers.json").write_text(json.dumps([asdict(s) | {"id": s.id} for s in speakers], indent=1))
    return out_dir
