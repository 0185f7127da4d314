"""The firmware's protocol state machine in Python, for the virtual device: pure bytes in, bytes out, no I/O; what it
computes comes from a backend (:mod:`host.virtual_backends`)."""
from __future__ import annotations

import numpy as np

from data.nothing import NOT_A_WORD, WORD, int8_answer
from host import protocol as p
from host.virtual_backends import Backend, InvokeError


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
            return self._infer(False)
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
            features, fe_us, fe_cycles, tone = self.backend.frontend(audio)
        except InvokeError:
            self.features_ready = False
            return p.encode_error("invoke")
        self.input[:] = features
        self.features_ready = True
        return self._infer(tone, fe_us=fe_us, fe_cycles=fe_cycles)

    def _infer(self, tone: bool, **frontend: int) -> bytes:
        """The model on the loaded input: the ``INFER`` reply, the ``HEAR`` reply given the front end's latency
        (``fe_us``, ``fe_cycles``) and whether it heard a tone (answer not-a-word), or ``ERR invoke``."""
        try:
            scores, us, cycles = self.backend.infer(bytes(self.input))
        except InvokeError:
            return p.encode_error("invoke")
        top = p.top_index(scores)
        fields = {"us": us, "cycles": cycles, "top": top, "scores": scores, "value": self._value(scores, top),
                  "answer": NOT_A_WORD if tone else self._answer(scores)}
        return p.encode_infer(p.HearResult(**fields, **frontend) if frontend else p.InferResult(**fields))

    def _answer(self, scores: tuple[int, ...]) -> str:
        """``answer=`` (minor version 2), as the firmware decides it."""
        info = self.backend.info
        return int8_answer(info.labels, scores, info.min_score)[1]

    def _value(self, scores: tuple[int, ...], top: int) -> float:
        """``value=`` (minor version 1): the top output dequantized in binary32, like the firmware."""
        info = self.backend.info
        return float(np.float32(scores[top] - info.out_zp) * np.float32(info.out_scale))

    def idle(self) -> bytes:
        """What the device prints when no byte arrives for a while: one prediction line while streaming."""
        return self._stream_one() if self.streaming else b""

    def _stream_one(self) -> bytes:
        """``# <clip> [<answer>:]<label> <percent>% <µs>us`` for the next self-test clip (percent rounded half up in
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
