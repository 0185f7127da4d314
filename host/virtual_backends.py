"""What the virtual device computes with (:mod:`host.virtual_device`): the reference fake inference of PROTOCOL.md
(:class:`FakeBackend`, a test double that replays the golden vectors) or the int8 model of a build folder on the
``tflite-micro`` Python interpreter with the firmware's own front end (:class:`TflmBackend`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from host import protocol as p

VIRTUAL_FW = "0.1.0-virtual"  # firmware version the virtual device reports (fw=…)
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

    def frontend(self, audio: np.ndarray) -> tuple[bytes, int, int, bool]:
        """int8 features of 16-bit samples, the front end's latency in µs and cycles, whether the audio is a tone
        (HEAR answers not-a-word); raises InvokeError."""
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

    def frontend(self, audio: np.ndarray) -> tuple[bytes, int, int, bool]:
        """Reference fake front end (``firmware/src/inference/audio_frontend_fake.cc``): feature ``i`` = low byte
        of (number of samples + sum of the audio's bytes + 3 i); audio starting with -32768 fails; never a tone."""
        if len(audio) == 0 or int(audio[0]) == FAKE_FE_FAIL_SAMPLE:
            raise InvokeError("fake front end fails on audio starting with -32768")
        total = len(audio) + sum(audio.astype("<i2").tobytes())
        return bytes((total + FAKE_FE_STEP * i) & 0xFF for i in range(self.info.input_bytes)), FAKE_FE_US, \
            FAKE_FE_CYCLES, False


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

    def frontend(self, audio: np.ndarray) -> tuple[bytes, int, int, bool]:
        """The firmware's front end on the host (host latency, 0 cycles, like ``infer``; its tone check)."""
        start = time.perf_counter_ns()
        features = self._frontend.features(audio)
        return features.tobytes(), int((time.perf_counter_ns() - start) // 1000), 0, self._frontend.is_tone()
