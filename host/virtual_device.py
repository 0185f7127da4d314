"""Virtual device: a pseudo-terminal that speaks the firmware's protocol, so the harness runs without a board.

``python -m host.virtual_device [--build build] [--backend tflm|fake] [--link PATH] [faults]`` opens a pty, prints
``virtual device on /dev/pts/N`` on stdout, writes ``BOOT`` and the self-test line to the pty like the firmware,
then answers commands until killed. ``DeviceSession`` is the protocol state machine (pure bytes in, bytes out, no
I/O), with a pluggable inference backend: ``FakeBackend`` is the reference fake inference of PROTOCOL.md (replays
the golden vectors), ``TflmBackend`` runs the int8 model with the ``tflite-micro`` Python interpreter.
The fault options (``--fault-rate``, ``--seed``, ``--reset-every``, ``--garbage-after``) damage the byte streams
deterministically for the harness's fault-injection tests.
"""
from __future__ import annotations

import argparse
import os
import random
import select
import subprocess
import sys
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from data.nothing import WORD, int8_answer
from host import protocol as p

VIRTUAL_FW = "0.1.0-virtual"  # firmware version the virtual device reports (fw=…)
STREAM_INTERVAL_S = 0.2  # pause between two STREAM predictions, so a person can read them
FAKE_US, FAKE_CYCLES = 1000, 64000  # latency of the reference fake inference (PROTOCOL.md)
FAKE_FAIL_BYTE = 0x80  # a clip of nothing but this byte makes the reference fake fail (covers ERR invoke)
FAKE_FE_US, FAKE_FE_CYCLES = 2000, 128000  # latency of the reference fake front end (PROTOCOL.md)
FAKE_FE_FAIL_SAMPLE = -32768  # audio starting with this sample makes the reference fake front end fail
FAKE_FE_STEP = 3  # feature i of the reference fake front end adds this step

# Reference device configuration of the golden vectors (PROTOCOL.md, "Golden vectors").
REFERENCE_INFO = p.HelloInfo(
    proto=p.PROTOCOL_VERSION, fw="0.1.0", model="0123abcd", frames=100, coeffs=13, in_scale=0.0625, in_zp=-128,
    outputs=10, out_scale=1 / 256, out_zp=-128, arena=9999,
    labels=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"), engine="fake",
    audio=16000, rate=16000, minor=p.PROTOCOL_MINOR, min_score=0,
)


class Backend(Protocol):
    """What the virtual device computes with."""

    info: p.HelloInfo
    selftest_clips: list[tuple[bytes, tuple[int, ...]]]  # (int8 input bytes, expected int8 scores)

    def infer(self, clip: bytes) -> tuple[tuple[int, ...], int, int]:
        """Scores (outputs,) as int8 ints, latency in µs and cycles for one complete input; raises InvokeError."""
        ...

    def frontend(self, audio: np.ndarray) -> tuple[bytes, int, int]:
        """int8 features of 16-bit samples, the front end's latency in µs and cycles; raises InvokeError."""
        ...


class InvokeError(Exception):
    """The backend could not run the model (the device answers ``ERR invoke``)."""


def _fake_scores(clip: bytes, outputs: int) -> tuple[int, ...]:
    total = sum(clip)
    return tuple(int(np.uint8((total + 7 * i) & 0xFF).astype(np.int8)) for i in range(outputs))


@dataclass
class FakeBackend:
    """Reference fake inference (a test double, PROTOCOL.md and ``firmware/src/inference/inference_fake.cc``).

    Score ``i`` = int8(low byte of sum(uint8 inputs) + 7 i), latency 1000 µs / 64000 cycles; a clip of nothing
    but 0x80 fails (``ERR invoke``). Self-test: clip 0 all 0x00 with its own fake scores (passes), clip 1 all
    0x01 expecting all zeros (fails).
    """

    info: p.HelloInfo = REFERENCE_INFO
    selftest_clips: list[tuple[bytes, tuple[int, ...]]] = field(default_factory=lambda: [
        (bytes(REFERENCE_INFO.input_bytes), tuple(7 * i for i in range(REFERENCE_INFO.outputs))),
        (bytes([1]) * REFERENCE_INFO.input_bytes, (0,) * REFERENCE_INFO.outputs),
    ])

    def infer(self, clip: bytes) -> tuple[tuple[int, ...], int, int]:
        """Fake scores of shape (outputs,) and the fixed reference latency."""
        if clip and clip == bytes([FAKE_FAIL_BYTE]) * len(clip):
            raise InvokeError("fake inference fails on an all-0x80 clip")
        return _fake_scores(clip, self.info.outputs), FAKE_US, FAKE_CYCLES

    def frontend(self, audio: np.ndarray) -> tuple[bytes, int, int]:
        """Reference fake front end (``firmware/src/inference/audio_frontend_fake.cc``): feature ``i`` = low byte
        of (number of samples + sum of the audio's bytes + 3 i); audio starting with -32768 fails."""
        if len(audio) == 0 or int(audio[0]) == FAKE_FE_FAIL_SAMPLE:
            raise InvokeError("fake front end fails on audio starting with -32768")
        total = len(audio) + sum(audio.astype("<i2").tobytes())
        return bytes((total + FAKE_FE_STEP * i) & 0xFF for i in range(self.info.input_bytes)), FAKE_FE_US, \
            FAKE_FE_CYCLES


class TflmBackend:
    """The int8 model of a build directory on the ``tflite-micro`` Python interpreter.

    Parameters
    ----------
    build_dir : Path
        Holds ``model_int8.tflite``, ``model_meta.json`` and ``features/test.npz`` (self-test clips).
    """

    def __init__(self, build_dir: Path) -> None:
        from host.runtime import Runtime
        from quantize.model_io import pick_selftest

        from host.frontend import DeviceFrontend, library_for

        rt = Runtime.open(Path(build_dir), warn=False)
        meta = rt.meta
        # The firmware's own front end (its C++ through ctypes), for HEAR.
        self._frontend = DeviceFrontend(library_for(Path(build_dir)))
        self._frontend.check(meta)
        # The device receives int8 clips: the TFLM interpreter itself, behind the runtime's input step.
        self._tflm = rt.backend("tflm").runner
        shape = meta["input"]["shape"]
        self.info = p.HelloInfo(
            proto=p.PROTOCOL_VERSION, fw=VIRTUAL_FW, model=meta["model_hash"], frames=shape[1],
            coeffs=shape[2], in_scale=meta["input"]["scale"], in_zp=meta["input"]["zero_point"],
            outputs=len(meta["labels"]), out_scale=meta["output"]["scale"], out_zp=meta["output"]["zero_point"],
            arena=meta["arena_bytes"], labels=tuple(meta["labels"]), audio=rt.params.clip_samples,
            rate=rt.params.sample_rate, engine="tflm", minor=p.PROTOCOL_MINOR,
            min_score=meta["answer"]["min_word_score"],
        )
        # The same test clips the firmware embeds (quantize's choice), with the scores the host's TFLM computes.
        test = rt.test_split()
        picked = pick_selftest(test["y"], meta["selftest_clips"])
        x = rt.device_input(test["x"][picked])
        self.selftest_clips = [(clip.tobytes(), tuple(int(s) for s in self._tflm.scores(clip))) for clip in x]

    def infer(self, clip: bytes) -> tuple[tuple[int, ...], int, int]:
        """TFLM scores of shape (outputs,), with the host's latency in µs and 0 cycles (the host has no board clock:
        nothing here may look like a board measurement)."""
        x = np.frombuffer(clip, dtype=np.int8).reshape(self.info.frames, self.info.coeffs)
        start = time.perf_counter_ns()
        try:
            scores = self._tflm.scores(x)
        except RuntimeError as e:
            raise InvokeError(str(e)) from None
        us = (time.perf_counter_ns() - start) // 1000
        return tuple(int(s) for s in scores), int(us), 0

    def frontend(self, audio: np.ndarray) -> tuple[bytes, int, int]:
        """The firmware's front end on the host (host latency, 0 cycles, like ``infer``)."""
        start = time.perf_counter_ns()
        features = self._frontend.features(audio)
        return features.tobytes(), int((time.perf_counter_ns() - start) // 1000), 0


class DeviceSession:
    """The firmware's protocol state machine: feed received bytes, get the bytes the device sends back.

    Parameters
    ----------
    backend : Backend
        Inference and device configuration.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.input = bytearray(backend.info.input_bytes)
        self.filled = 0
        self.audio = bytearray(2 * backend.info.audio)
        self.audio_filled = 0
        self.features_ready = False  # the input holds the last HEAR's features until the next LOAD
        self.streaming = False
        self._stream_clip = 0
        self._line = bytearray()
        self._overflowed = False

    def boot(self) -> bytes:
        """What the device prints after a reset (``BOOT`` and the self-test line); clears all state."""
        self.filled = 0
        self.audio_filled = 0
        self.features_ready = False
        self.streaming = False
        self._line.clear()
        self._overflowed = False
        passed, total = self.selftest()
        info = self.backend.info
        return p.encode_boot(info.fw, info.model) + p.encode_comment(f"self-test {passed}/{total} identical to host")

    def selftest(self) -> tuple[int, int]:
        """Clips of the embedded self-test whose scores are byte-identical to the expected ones."""
        clips = self.backend.selftest_clips
        return sum(self._run(x) == tuple(expected) for x, expected in clips), len(clips)

    def _run(self, clip: bytes) -> tuple[int, ...] | None:
        """Scores of one clip, ``None`` when the backend fails."""
        try:
            return self.backend.infer(clip)[0]
        except InvokeError:
            return None

    def feed(self, data: bytes) -> bytes:
        """Consume received bytes (any split) and return every reply they complete, in order."""
        out = bytearray()
        for byte in data:
            if byte == 0x0D:
                continue  # '\r' is ignored wherever it appears
            if byte != 0x0A:
                if self._overflowed:
                    continue
                if len(self._line) == p.PROTO_MAX_LINE:
                    self._overflowed = True  # drop up to the next '\n', then answer once
                else:
                    self._line.append(byte)
                continue
            self.streaming = False  # any line (even an empty one) ends STREAM, then is handled as usual
            if self._overflowed:
                self._overflowed = False
                self._line.clear()
                out += p.encode_error("too-long")
            elif self._line:
                line = bytes(self._line)
                self._line.clear()
                out += self.handle(line)
        return bytes(out)

    def handle(self, line: bytes) -> bytes:
        """Reply to one complete, non-empty line (without ``\\r``/``\\n``)."""
        try:
            cmd = p.parse_command(line)
        except p.CommandError as e:
            return p.encode_error(e.code, e.detail)
        total = self.backend.info.input_bytes
        if cmd.word == "HELLO":
            return p.encode_hello(self.backend.info)
        if cmd.word == "LOAD":
            reply = self._chunk(cmd, self.input, "filled")
            self.features_ready = self.features_ready and not reply.startswith(b"OK")
            return reply
        if cmd.word == "AUDIO":
            return self._chunk(cmd, self.audio, "audio_filled")
        if cmd.word == "HEAR":
            return self._hear()
        if cmd.word == "FEATURES":
            if not self.features_ready:
                return p.encode_error("incomplete", "filled=0")
            if cmd.offset >= total:
                return p.encode_error("range", "max=0")
            return p.encode_features(cmd.offset, bytes(self.input[cmd.offset: cmd.offset + p.PROTO_MAX_CHUNK]))
        if cmd.word == "INFER":
            if self.filled != total:
                return p.encode_error("incomplete", f"filled={self.filled}")
            self.filled = 0  # every clip is loaded from offset 0, whatever the outcome
            try:
                scores, us, cycles = self.backend.infer(bytes(self.input))
            except InvokeError:
                return p.encode_error("invoke")
            top = p.top_index(scores)
            return p.encode_infer(p.InferResult(us=us, cycles=cycles, top=top, scores=scores,
                                                value=self._value(scores, top), answer=self._answer(scores)))
        if cmd.word == "SELFTEST":
            return p.encode_selftest(*self.selftest())
        if cmd.word == "STREAM":
            self.streaming = True
            self._stream_clip = 0
            return p.encode_ack("STREAM")
        return p.encode_ack("STOP")

    def _chunk(self, cmd: p.Command, buffer: bytearray, filled_name: str) -> bytes:
        """``LOAD``/``AUDIO``: the chunk into ``buffer`` whose fill count is the attribute ``filled_name``."""
        filled = getattr(self, filled_name)
        # offset 0 starts a new clip, but only a successful chunk discards the partial one
        if cmd.offset not in (0, filled):
            return p.encode_error("order", f"expected={filled}")
        max_bytes = max(0, min(len(buffer) - cmd.offset, p.PROTO_MAX_CHUNK))
        if len(cmd.payload) > max_bytes:
            return p.encode_error("range", f"max={max_bytes}")
        buffer[cmd.offset: cmd.offset + len(cmd.payload)] = cmd.payload
        setattr(self, filled_name, cmd.offset + len(cmd.payload))
        return p.encode_load_ack(cmd.offset + len(cmd.payload), cmd.word)

    def _hear(self) -> bytes:
        """``HEAR``: the front end on the loaded audio, then the model; audio and input are used up."""
        filled = self.audio_filled
        if filled == 0 or filled % 2:
            return p.encode_error("incomplete", f"filled={filled}")
        self.audio_filled = self.filled = 0
        audio = np.frombuffer(bytes(self.audio[:filled]), "<i2")
        try:
            features, fe_us, fe_cycles = self.backend.frontend(audio)
        except InvokeError:
            self.features_ready = False
            return p.encode_error("invoke")
        self.input[:] = features
        self.features_ready = True
        try:
            scores, us, cycles = self.backend.infer(bytes(self.input))
        except InvokeError:
            return p.encode_error("invoke")
        top = p.top_index(scores)
        return p.encode_infer(p.HearResult(us=us, cycles=cycles, top=top, scores=scores,
                                           value=self._value(scores, top), answer=self._answer(scores),
                                           fe_us=fe_us, fe_cycles=fe_cycles))

    def _value(self, scores: tuple[int, ...], top: int) -> float:
        """``value=`` (minor version 1): the top output dequantized in binary32, like the firmware."""
        info = self.backend.info
        return float(np.float32(scores[top] - info.out_zp) * np.float32(info.out_scale))

    def _answer(self, scores: tuple[int, ...]) -> str:
        """``answer=`` (minor version 2), as the firmware decides it."""
        info = self.backend.info
        return int8_answer(info.labels, scores, info.min_score)[1]

    def idle(self) -> bytes:
        """What the device prints when no byte arrives for a while: one prediction line while streaming."""
        return self._stream_one() if self.streaming else b""

    def _stream_one(self) -> bytes:
        """``# <clip> <label> <percent>% <µs>us`` for the next self-test clip (percent rounded half up in
        binary32, as the firmware computes it)."""
        clips = self.backend.selftest_clips
        if not clips:
            return b""
        index = self._stream_clip
        self._stream_clip = (index + 1) % len(clips)
        try:
            scores, us, _ = self.backend.infer(clips[index][0])
        except InvokeError:
            self.streaming = False
            return p.encode_comment(f"{index} invoke failed, stream stopped")
        info = self.backend.info
        top = p.top_index(scores)
        probability = np.float32(scores[top] - info.out_zp) * np.float32(info.out_scale)
        percent = int(probability * np.float32(100) + np.float32(0.5))
        answer = self._answer(scores)
        shown = info.labels[top] if answer == WORD else f"{answer}:{info.labels[top]}"
        return p.encode_comment(f"{index} {shown} {percent}% {us}us")


class FaultInjector:
    """Seeded damage to whole lines in both directions, and simulated resets (for fault-injection tests).

    Parameters
    ----------
    rate : float
        Probability that a line (received or sent) is damaged: one byte dropped, one byte flipped, or the line
        truncated (its end cut off, the ``\\n`` kept).
    seed : int
        Seed of the random generator, so a failing run can be replayed.
    reset_every : int
        Simulate a device reset (state lost, ``BOOT`` printed) after every this many received lines; 0 never.
    garbage_after : int
        After this many received lines, answer every line with noise instead of a reply; 0 never.
    die_after : int
        After this many received lines the device dies without replying (``dead`` becomes true); 0 never.
    """

    def __init__(self, rate: float = 0.0, seed: int = 0, reset_every: int = 0, garbage_after: int = 0,
                 die_after: int = 0) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.reset_every = reset_every
        self.garbage_after = garbage_after
        self.die_after = die_after
        self.lines = 0

    @property
    def dead(self) -> bool:
        """Whether the simulated device has died (``die_after`` lines received)."""
        return bool(self.die_after) and self.lines >= self.die_after

    def damage(self, data: bytes) -> bytes:
        """``data`` with each of its lines damaged with probability ``rate``."""
        if not self.rate:
            return data
        out = bytearray()
        for piece in _pieces(data):
            eol = p.EOL if piece.endswith(p.EOL) else b""
            body = bytearray(piece[: len(piece) - len(eol)])
            if body and self.rng.random() < self.rate:
                kind = self.rng.choice(("drop", "flip", "truncate"))
                pos = self.rng.randrange(len(body))
                if kind == "drop":
                    del body[pos]
                elif kind == "flip":
                    body[pos] ^= self.rng.randrange(1, 256)
                else:
                    del body[pos:]
            out += body + eol
        return bytes(out)

    def respond(self, session: DeviceSession, received: bytes) -> bytes:
        """Feed ``received`` (damaged) to ``session`` and return its (damaged) replies, with resets and noise."""
        out = bytearray()
        for line in _pieces(self.damage(received)):
            self.lines += line.endswith(p.EOL)
            if self.garbage_after and self.lines > self.garbage_after:
                session.feed(line)
                out += bytes(self.rng.randrange(32, 127) for _ in range(40)) + p.EOL
            elif self.reset_every and line.endswith(p.EOL) and self.lines % self.reset_every == 0:
                out += session.boot()  # the line is lost in the reset
            else:
                out += self.damage(session.feed(line))
        return bytes(out)


def _pieces(data: bytes) -> list[bytes]:
    """``data`` split after every ``\\n``; the last piece may be a partial line without one."""
    parts = data.split(p.EOL)
    return [part + p.EOL for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def serve(session: DeviceSession, faults: FaultInjector, link: Path | None = None) -> None:
    """Open a pty, announce its path on stdout and answer on it forever.

    Parameters
    ----------
    session : DeviceSession
        The protocol state machine.
    faults : FaultInjector
        Damage applied to both directions (none by default).
    link : Path or None
        Also make this symlink point at the pty, so a restarted device is found at the same name.
    """
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no newline translation: a byte stream like USB CDC
    path = os.ttyname(slave)
    if link is not None:
        tmp = link.with_name(link.name + ".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(link)  # atomic: a client never sees the link missing
    print(f"virtual device on {path}", flush=True)
    os.write(master, session.boot())
    # the slave stays open here, so the master never sees EOF while the harness closes and reopens the port
    while True:
        ready, _, _ = select.select([master], [], [], STREAM_INTERVAL_S if session.streaming else None)
        if not ready:
            os.write(master, session.idle())
            continue
        reply = faults.respond(session, os.read(master, 4096))
        if faults.dead:
            os._exit(3)  # like a killed process: no reply, no cleanup, the pty vanishes
        if reply:
            os.write(master, reply)


class VirtualDeviceProcess:
    """The virtual device in a child process: ``with VirtualDeviceProcess(...) as vd: open(vd.port)``.

    Parameters
    ----------
    args : list of str
        Command-line options of ``python -m host.virtual_device`` (``--build``, ``--backend``, faults…).
    """

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.port = ""

    def start(self) -> str:
        """Start the child and return its pty path, once it is ready to answer."""
        self.proc = subprocess.Popen([sys.executable, "-m", "host.virtual_device", *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        announce = self.proc.stdout.readline()  # printed once the pty exists and BOOT is written
        if not announce.startswith("virtual device on "):
            self.proc.wait()
            reason = self.proc.stderr.read().strip().splitlines()
            raise VirtualDeviceError(reason[-1] if reason else f"exited with status {self.proc.returncode}")
        self.port = announce.split(" on ", 1)[1].strip()
        return self.port

    def stop(self) -> None:
        """Kill the child (as an unplugged board: no goodbye)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "VirtualDeviceProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class VirtualDeviceError(Exception):
    """The virtual device could not start (missing build, bad options); the message is its one error line."""


def main(argv: list[str] | None = None) -> None:
    """Command line of the virtual device."""
    parser = argparse.ArgumentParser(prog="python -m host.virtual_device", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="build directory of the model")
    parser.add_argument("--backend", choices=("tflm", "fake"), default="tflm",
                        help="tflm: the int8 model; fake: the reference fake inference of the golden vectors")
    parser.add_argument("--link", type=Path, help="symlink to the pty, stable across restarts")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of damaging each line")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    parser.add_argument("--reset-every", type=int, default=0, help="simulate a reset every N received lines")
    parser.add_argument("--garbage-after", type=int, default=0, help="answer noise after N received lines")
    parser.add_argument("--die-after", type=int, default=0, help="exit abruptly on the Nth received line")
    args = parser.parse_args(argv)
    from data.config import run_main

    def run() -> None:
        if args.backend == "fake":
            backend: Backend = FakeBackend()
        else:
            backend = TflmBackend(args.build)
        serve(DeviceSession(backend), FaultInjector(args.fault_rate, args.seed, args.reset_every,
                                                    args.garbage_after, args.die_after), args.link)

    run_main(run, tensorflow=args.backend == "tflm")


if __name__ == "__main__":
    sys.exit(main())
