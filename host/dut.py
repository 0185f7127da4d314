"""Device under test: protocol commands over a ``SerialLink`` with timeouts, retries and re-synchronisation."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np

from host import protocol as p
from host.serial_device import LinkError, SerialLink

HELLO_TIMEOUT_S = 3.0  # a running device answers at once; after a reset it first runs its self-test (~1-2 s)
HANDSHAKE_ATTEMPTS = 5  # HELLO tries (covers a device still booting and lost/corrupted lines)
REPLY_TIMEOUT_S = 1.0  # LOAD and other cheap commands: only parsing on the device, milliseconds
INFER_TIMEOUT_S = 5.0  # the BiLSTM takes a few hundred ms on the Cortex-M4; ten-fold margin
HEAR_TIMEOUT_S = 10.0  # front end (tens of ms on the board) plus the model; generous for the emulator
SELFTEST_TIMEOUT_S = 30.0  # SELFTEST runs every embedded clip (8 x a few hundred ms on the board)
CLIP_ATTEMPTS = 4  # tries per clip (first one included); every failure re-synchronises before the next try
# The timeouts above are floors, for a board: a reply may take LATENCY_MARGIN times the slowest reply of its kind
# measured in the session (the handshake's HELLO measures the first exchange), up to MAX_REPLY_TIMEOUT_S; every
# retry of a clip waits TIMEOUT_BACKOFF times longer than the try before. An emulated board on a loaded machine
# answers a hundred times slower than a board, and unevenly: a fixed 1 s lost clips there (issue 26: at load 7-11
# every try of an audio clip, about 130 exchanges, had one reply later than 1 s).
LATENCY_MARGIN = 10.0
TIMEOUT_BACKOFF = 2.0
MAX_REPLY_TIMEOUT_S = 120.0

R = TypeVar("R")


@dataclass(frozen=True)
class Timeouts:
    """Timeouts and retry counts of one session (the module constants unless a test shortens them)."""

    hello_s: float = HELLO_TIMEOUT_S
    handshake_attempts: int = HANDSHAKE_ATTEMPTS
    reply_s: float = REPLY_TIMEOUT_S
    infer_s: float = INFER_TIMEOUT_S
    clip_attempts: int = CLIP_ATTEMPTS
    hear_s: float = HEAR_TIMEOUT_S


class DutError(Exception):
    """A failure that retries could not overcome; the message is one line naming the reason."""


class DeviceReset(Exception):
    """The device printed ``BOOT``: it restarted and lost its state."""


class ReplyTimeout(Exception):
    """No complete reply line within the deadline."""


class DeviceRejected(p.ProtocolError):
    """The device answered ``ERR``."""


class Dut:
    """Commands of the protocol with retries: ``handshake`` and ``infer``.

    Parameters
    ----------
    link : SerialLink
        The open port.
    expected_model : str or None
        8-hex model hash the device must report; ``None`` accepts any.
    timeouts : Timeouts
        Timeouts and retry counts.
    """

    def __init__(self, link: SerialLink, expected_model: str | None = None, timeouts: Timeouts = Timeouts()) -> None:
        self.link = link
        self.expected_model = expected_model
        self.timeouts = timeouts
        self.info: p.HelloInfo | None = None
        self.resets = 0  # BOOT lines seen after the first handshake
        self.retries = 0  # clip attempts that failed and were retried
        # The slowest reply of each kind so far, seconds from the command to its reply: "reply" (HELLO, LOAD,
        # AUDIO, FEATURES: parsing only), "infer", "hear".
        self.slowest: dict[str, float] = {}
        self._attempt = 1  # the current clip's try

    def timeout(self, kind: str, floor_s: float) -> float:
        """The reply timeout of a ``kind`` of command on the current try: ``floor_s``, or more on a device measured
        slow (a cheap reply's latency is part of every reply's), times the backoff of the retries."""
        latency = max(self.slowest.get(kind, 0.0), self.slowest.get("reply", 0.0))
        measured = max(floor_s, LATENCY_MARGIN * latency)
        return min(max(floor_s, MAX_REPLY_TIMEOUT_S), measured * TIMEOUT_BACKOFF ** (self._attempt - 1))

    def _record(self, kind: str, seconds: float) -> None:
        self.slowest[kind] = max(self.slowest.get(kind, 0.0), seconds)

    def _command(self, line: bytes, kind: type[R], latency: str, floor_s: float) -> R:
        """Send one command and return its reply of type ``kind`` within the timeout of its ``latency`` kind; the
        reply's latency is measured."""
        timeout_s = self.timeout(latency, floor_s)
        start = time.monotonic()
        self.link.write(line)
        reply = self._expect(kind, timeout_s)
        self._record(latency, time.monotonic() - start)
        return reply

    def _read_reply(self, timeout_s: float) -> p.Reply:
        """Next protocol reply, skipping commentary; raises on BOOT, timeout and invalid lines."""
        deadline = time.monotonic() + timeout_s
        while True:
            raw = self.link.read_line(max(0.0, deadline - time.monotonic()))
            if raw is None:
                raise ReplyTimeout(f"no reply within {timeout_s:g} s")
            reply = p.parse_device_line(raw)
            if reply is None or isinstance(reply, p.Comment):
                continue
            if isinstance(reply, p.Boot):
                raise DeviceReset(f"device reset (BOOT fw={reply.fw})")
            return reply

    def _expect(self, kind: type[R], timeout_s: float) -> R:
        reply = self._read_reply(timeout_s)
        if isinstance(reply, p.ErrorReply):
            raise DeviceRejected(f"device answered ERR {reply.code} {reply.detail}".rstrip())
        if type(reply) is not kind:  # exactly: a HEAR reply is no INFER reply
            raise p.ProtocolError(f"unexpected reply {reply}")
        return reply

    def handshake(self) -> p.HelloInfo:
        """Send ``HELLO`` until a valid reply arrives; check the model hash.

        Stale replies, commentary, garbage and ``BOOT`` lines before the ``OK HELLO`` are skipped, so this is
        also how the session re-synchronises after any failure.

        Returns
        -------
        HelloInfo

        Raises
        ------
        DutError
            No valid reply after ``handshake_attempts`` tries, or a different model on the device.
        """
        last: Exception | None = None
        for _ in range(self.timeouts.handshake_attempts):
            try:
                self.link.discard_input()
                start = time.monotonic()
                self.link.write(p.encode_command("HELLO"))
                deadline = start + max(self.timeouts.hello_s, LATENCY_MARGIN * self.slowest.get("reply", 0.0))
                while True:
                    try:
                        reply = self._read_reply(max(0.0, deadline - time.monotonic()))
                    except (p.ProtocolError, DeviceReset) as e:
                        last = e  # garbage, or a device still booting: keep listening until the deadline
                        continue
                    if isinstance(reply, p.HelloInfo):
                        self._record("reply", time.monotonic() - start)  # the first exchange measured
                        return self._accept(reply)
            except ReplyTimeout as e:
                last = last or e
            except LinkError as e:
                last = e
                self.link.reopen()
        raise DutError(f"no valid HELLO reply after {self.timeouts.handshake_attempts} attempts (last: {last})")

    def _accept(self, info: p.HelloInfo) -> p.HelloInfo:
        if info.proto != p.PROTOCOL_VERSION:
            raise DutError(f"device speaks protocol {info.proto}, this host speaks {p.PROTOCOL_VERSION}")
        if self.expected_model is not None and info.model != self.expected_model:
            raise DutError(
                f"device runs model {info.model} but the local build is {self.expected_model}; "
                "flash the matching firmware or point the harness at the matching build"
            )
        self.info = info
        return info

    def _load_and_infer(self, clip: bytes) -> p.InferResult:
        for offset in range(0, len(clip), p.PROTO_MAX_CHUNK):
            chunk = clip[offset: offset + p.PROTO_MAX_CHUNK]
            ack = self._command(p.encode_command("LOAD", offset, chunk), p.LoadAck, "reply", self.timeouts.reply_s)
            # a stale acknowledgement would carry another count: never mistake it for this chunk's
            if ack.filled != offset + len(chunk):
                raise p.ProtocolError(f"LOAD acknowledged {ack.filled} bytes, expected {offset + len(chunk)}")
        result = self._command(p.encode_command("INFER"), p.InferResult, "infer", self.timeouts.infer_s)
        if len(result.scores) != self.info.outputs:
            raise p.ProtocolError(f"INFER returned {len(result.scores)} scores, expected {self.info.outputs}")
        return result

    def _hear_and_fetch(self, audio: bytes) -> tuple[p.HearResult, bytes]:
        for offset in range(0, len(audio), p.PROTO_MAX_CHUNK):
            chunk = audio[offset: offset + p.PROTO_MAX_CHUNK]
            ack = self._command(p.encode_command("AUDIO", offset, chunk), p.LoadAck, "reply", self.timeouts.reply_s)
            if ack.word != "AUDIO" or ack.filled != offset + len(chunk):
                raise p.ProtocolError(f"AUDIO acknowledged {ack}, expected {offset + len(chunk)} bytes")
        result = self._command(p.encode_command("HEAR"), p.HearResult, "hear", self.timeouts.hear_s)
        if len(result.scores) != self.info.outputs:
            raise p.ProtocolError(f"HEAR returned {len(result.scores)} scores, expected {self.info.outputs}")
        features = bytearray()
        while len(features) < self.info.input_bytes:
            chunk = self._command(p.encode_command("FEATURES", len(features)), p.FeaturesChunk, "reply",
                                  self.timeouts.reply_s)
            if chunk.offset != len(features) or not chunk.data:
                raise p.ProtocolError(f"FEATURES answered offset {chunk.offset}, expected {len(features)}")
            features += chunk.data
        if len(features) != self.info.input_bytes:
            raise p.ProtocolError(f"FEATURES returned {len(features)} bytes, expected {self.info.input_bytes}")
        return result, bytes(features)

    def hear(self, audio: np.ndarray) -> tuple[p.HearResult, bytes, int]:
        """Send 16-bit audio, run the device's front end and model on it (``HEAR``) and fetch the features it
        computed, retrying after any failure.

        Parameters
        ----------
        audio : np.ndarray, shape (n,), int16
            1 to ``HelloInfo.audio`` samples at ``HelloInfo.rate``.

        Returns
        -------
        result : HearResult
            Scores, top index, the front end's and the model's latencies.
        features : bytes
            The device's int8 features (frames x coeffs, row-major).
        attempts : int
            Tries it took.

        Raises
        ------
        DutError
            The device takes no audio or not this much, or every attempt failed.
        """
        if self.info is None:
            self.handshake()
        if not 1 <= len(audio) <= self.info.audio:
            raise DutError(f"clip has {len(audio)} samples, the device takes 1..{self.info.audio} "
                           f"({'no audio: a protocol 1 firmware?' if not self.info.audio else 'one clip'})")
        data = np.asarray(audio, "<i2").tobytes()
        return self._retry(lambda: self._hear_and_fetch(data))

    def infer(self, clip: bytes) -> tuple[p.InferResult, int]:
        """Load one clip and run it, retrying after any failure.

        Parameters
        ----------
        clip : bytes
            ``frames x coeffs`` int8 values (two's complement), row-major.

        Returns
        -------
        result : InferResult
            Scores of shape (outputs,), top index and latency.
        attempts : int
            Tries it took (1 when nothing went wrong).

        Raises
        ------
        DutError
            Every attempt failed; the message names the last error.
        """
        if self.info is None:
            self.handshake()
        if len(clip) != self.info.input_bytes:
            raise DutError(f"clip has {len(clip)} values, the device expects {self.info.input_bytes}")
        result, attempts = self._retry(lambda: (self._load_and_infer(clip),))
        return result, attempts

    def _retry(self, attempt_once: Callable[[], tuple]) -> tuple:
        """``attempt_once()``'s values plus the number of tries, re-synchronising after every failure."""
        last: Exception | None = None
        for attempt in range(1, self.timeouts.clip_attempts + 1):
            self._attempt = attempt
            try:
                if last is not None:
                    self.retries += 1
                    self.handshake()  # every clip restarts at offset 0, so a resync loses nothing
                return (*attempt_once(), attempt)
            except DeviceReset as e:
                self.resets += 1
                last = e
            except (ReplyTimeout, p.ProtocolError) as e:
                last = e
            except LinkError as e:
                last = e
                self.link.reopen()  # a reset board re-enumerates; raises LinkError when it never comes back
        raise DutError(f"clip failed after {self.timeouts.clip_attempts} attempts (last: {last})")

    def selftest(self) -> p.SelftestResult:
        """Run the device's embedded test clips (``SELFTEST``), without retries."""
        self.link.write(p.encode_command("SELFTEST"))
        return self._expect(p.SelftestResult, SELFTEST_TIMEOUT_S)
