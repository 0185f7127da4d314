"""Pure codec of the serial protocol (``firmware/PROTOCOL.md``): constants, CRC, encoding and parsing of lines.

No I/O happens here. The host side encodes commands and parses device lines; the virtual device uses the other
half (parse commands, encode replies) so both directions are checked against the same golden vectors as the firmware.
"""
from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass

from data.nothing import ANSWERS

# --- Constants of the wire format ---
# Their source is firmware/src/core/protocol.h (and crc16.h); tests/test_protocol_source.py parses it and fails when
# a value here or in PROTOCOL.md differs. Kept as plain Python rather than parsed at import, so the host works (and
# reads) without the firmware tree.
PROTOCOL_VERSION = 2  # 2: raw audio (AUDIO, HEAR, FEATURES; HELLO audio= rate=)
# Minor version (protocol.h kMinorVersion): keys at the end of the replies; 1: HELLO's minor=, INFER's and HEAR's
# value=; 2: HELLO's min_score=, INFER's and HEAR's answer=.
PROTOCOL_MINOR = 2
PROTO_MAX_LINE = 600  # bytes per line, not counting the "\n"
PROTO_MAX_CHUNK = 256  # bytes per LOAD/AUDIO line and FEATURES reply
CRC_SEPARATOR = b" *"
CRC_HEX_DIGITS = 4
CRC_INIT = 0xFFFF  # CRC-16/CCITT-FALSE initial value
COMMENT_PREFIX = b"# "
EOL = b"\n"

# Command words (host -> device) and reply words (device -> host).
COMMANDS = ("HELLO", "LOAD", "INFER", "SELFTEST", "STREAM", "STOP", "AUDIO", "HEAR", "FEATURES")
# Commands that carry data (CRC required) and commands with an offset.
DATA_COMMANDS = ("LOAD", "AUDIO")
BOOT_WORD, OK_WORD, ERR_WORD = "BOOT", "OK", "ERR"
# The answer= words of INFER and HEAR (minor version 2) are the host's own words: data.nothing.ANSWERS.
# Error codes in the order of PROTOCOL.md's table, which is also the order the checks run in.
ERROR_CODES = ("too-long", "crc", "no-crc", "unknown", "syntax", "order", "range", "incomplete", "invoke")

_CRC_DIGITS = re.compile(rb"[0-9A-Fa-f]{%d}" % CRC_HEX_DIGITS)
_DECIMAL = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")
_HEX_PAYLOAD = re.compile(r"([0-9A-Fa-f]{2})+")
_LABEL = re.compile(r"[A-Za-z0-9_-]+")


class ProtocolError(Exception):
    """A line that violates the protocol (bad checksum, malformed, unexpected)."""


class ChecksumError(ProtocolError):
    """A device line whose CRC is missing or does not match its body."""


class CommandError(ProtocolError):
    """A host command the device must reject; ``code`` is one of ``ERROR_CODES``.

    Parameters
    ----------
    code : str
        Error code sent back in ``ERR <code>``.
    detail : str
        Optional detail (``expected=…``, ``max=…``), empty when the code has none.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code} {detail}".strip())
        self.code = code
        self.detail = detail


# --- Checksum and framing ---


def crc16(body: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``body`` (``crc16(b"123456789") == 0x29B1``)."""
    return binascii.crc_hqx(body, CRC_INIT)


def frame(body: str) -> bytes:
    """Append `` *CRC`` and the end of line to ``body``.

    Parameters
    ----------
    body : str
        ASCII text of the line without separator, CRC and newline.

    Returns
    -------
    bytes
        ``body + " *" + 4 uppercase hex digits + "\\n"``.
    """
    raw = body.encode("ascii")
    return raw + CRC_SEPARATOR + b"%0*X" % (CRC_HEX_DIGITS, crc16(raw)) + EOL


def split_crc(line: bytes) -> tuple[bytes, bool]:
    """Split a line (without ``\\r``/``\\n``) into body and CRC, verifying the CRC when there is one.

    Parameters
    ----------
    line : bytes
        One received line, ``\\r`` and ``\\n`` removed.

    Returns
    -------
    body : bytes
        The bytes covered by the CRC (the whole line when it carries none).
    has_crc : bool
        Whether the line carried a CRC (which then matched).

    Raises
    ------
    ChecksumError
        The CRC is malformed or does not match the body.
    """
    pos = line.find(CRC_SEPARATOR)  # the first " *", as the firmware does
    if pos < 0:
        return line, False
    body, digits = line[:pos], line[pos + len(CRC_SEPARATOR):]
    if not _CRC_DIGITS.fullmatch(digits):
        raise ChecksumError(f"malformed CRC {digits!r}")
    expected = crc16(body)
    if int(digits, 16) != expected:
        raise ChecksumError(f"CRC {digits.decode()} does not match body (expected {expected:0{CRC_HEX_DIGITS}X})")
    return body, True


def clean_line(raw: bytes) -> bytes:
    """Remove the ``\\n`` terminator and every ``\\r`` (terminals sending ``\\r\\n`` work)."""
    return raw.rstrip(EOL).replace(b"\r", b"")


# --- Number encodings ---


def f32_to_hex(value: float) -> str:
    """IEEE-754 binary32 bit pattern as 8 uppercase hex digits (``0.0625`` -> ``3D800000``)."""
    return struct.pack(">f", value).hex().upper()


def hex_to_f32(text: str) -> float:
    """Inverse of ``f32_to_hex``."""
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", text):
        raise ProtocolError(f"not an 8-digit float hex: {text!r}")
    return struct.unpack(">f", bytes.fromhex(text))[0]


def int8_to_hex(values: bytes | bytearray | memoryview) -> str:
    """Two's-complement bytes as uppercase hex (``-1`` -> ``FF``)."""
    return bytes(values).hex().upper()


# --- Host -> device commands ---


@dataclass(frozen=True)
class Command:
    """One parsed host command.

    Attributes
    ----------
    word : str
        One of ``COMMANDS``.
    offset : int
        ``LOAD``/``AUDIO``: the byte offset of the chunk; ``FEATURES``: the first feature byte asked for.
    payload : bytes
        ``LOAD``: int8 values, two's complement; ``AUDIO``: 16-bit little-endian samples (any length: ``range``
        is the device's check).
    crc : bool
        Whether the line carried a CRC (a person typing ``HELLO`` sends none).
    """

    word: str
    offset: int = 0
    payload: bytes = b""
    crc: bool = True


def encode_command(word: str, offset: int = 0, payload: bytes = b"", crc: bool = True) -> bytes:
    """Encode a host command (the harness always sends the CRC).

    Parameters
    ----------
    word : str
        One of ``COMMANDS``.
    offset : int
        ``LOAD``/``AUDIO``: number of bytes already loaded for this clip; ``FEATURES``: first byte asked for.
    payload : bytes
        ``LOAD``/``AUDIO``: 1 to ``PROTO_MAX_CHUNK`` bytes.
    crc : bool
        Append the CRC; ``LOAD`` and ``AUDIO`` require it.

    Returns
    -------
    bytes
        The line, terminated by ``\\n``.
    """
    if word not in COMMANDS:
        raise ValueError(f"unknown command {word!r}")
    if word in DATA_COMMANDS:
        if not 1 <= len(payload) <= PROTO_MAX_CHUNK or offset < 0:
            raise ValueError(f"{word} chunk of {len(payload)} bytes at offset {offset}")
        body = f"{word} {offset} {int8_to_hex(payload)}"
    elif word == "FEATURES":
        if offset < 0:
            raise ValueError(f"FEATURES at offset {offset}")
        body = f"FEATURES {offset}"
    else:
        body = word
    return frame(body) if crc else body.encode("ascii") + EOL


def parse_command(line: bytes) -> Command:
    """Parse one host line as the device does (the state checks ``order``/``range``/``incomplete`` come later).

    Parameters
    ----------
    line : bytes
        One line, ``\\r``/``\\n`` already removed, not empty.

    Returns
    -------
    Command

    Raises
    ------
    CommandError
        With the code the device answers (``crc``, ``unknown``, ``no-crc``, ``syntax``, checked in this order).
    """
    try:
        body, has_crc = split_crc(line)
    except ChecksumError:
        raise CommandError("crc") from None
    tokens = body.split(b" ")
    word = tokens[0].decode("ascii", "replace")
    if word not in COMMANDS:
        raise CommandError("unknown")
    if word == "FEATURES":
        offset = tokens[1].decode("ascii", "replace") if len(tokens) == 2 else ""
        if not _DECIMAL.fullmatch(offset):
            raise CommandError("syntax")
        return Command(word, int(offset), crc=has_crc)
    if word not in DATA_COMMANDS:
        if len(tokens) != 1:
            raise CommandError("syntax")
        return Command(word, crc=has_crc)
    if not has_crc:
        raise CommandError("no-crc")
    if len(tokens) != 3:
        raise CommandError("syntax")
    offset, payload = tokens[1].decode("ascii", "replace"), tokens[2].decode("ascii", "replace")
    if not _DECIMAL.fullmatch(offset) or not _HEX_PAYLOAD.fullmatch(payload):
        raise CommandError("syntax")
    return Command(word, int(offset), bytes.fromhex(payload))


# --- Device -> host lines ---


@dataclass(frozen=True)
class Boot:
    """``BOOT proto=… fw=… model=…``: the device has (re)started."""

    proto: int
    fw: str
    model: str


@dataclass(frozen=True)
class HelloInfo:
    """``OK HELLO …``: the device's identity and model configuration.

    ``frames`` x ``coeffs`` is the input shape, ``labels`` has ``outputs`` entries.
    """

    proto: int
    fw: str
    model: str
    frames: int
    coeffs: int
    in_scale: float
    in_zp: int
    outputs: int
    out_scale: float
    out_zp: int
    arena: int
    labels: tuple[str, ...]
    engine: str = ""  # "tflm", "native", "fake"; empty from firmware that predates the key
    minor: int = 0  # minor protocol version; 0: a device that does not send minor= (version 1.0)
    audio: int = 0  # most 16-bit samples one HEAR takes (protocol 2; 0: no audio)
    rate: int = 0  # their sample rate in Hz
    min_score: int | None = None  # the int8 score a word needs (minor 2); None from an older device

    @property
    def input_bytes(self) -> int:
        """Number of int8 values in one clip."""
        return self.frames * self.coeffs


@dataclass(frozen=True)
class LoadAck:
    """``OK LOAD <filled>`` (``word`` LOAD) or ``OK AUDIO <filled>`` (``word`` AUDIO)."""

    filled: int
    word: str = "LOAD"


@dataclass(frozen=True)
class InferResult:
    """``OK INFER …``: int8 ``scores`` of shape (outputs,), ``top`` index, latency of ``Invoke()``."""

    us: int
    cycles: int
    top: int
    scores: tuple[int, ...]
    value: float | None = None  # the top output dequantized on the device (minor 1); None from a 1.0 device
    answer: str | None = None  # one of ANSWERS (minor 2); None from an older device


@dataclass(frozen=True)
class HearResult(InferResult):
    """``OK HEAR …``: an ``InferResult`` on features the device computed from audio, with the front end's own
    latency (``fe_us``, ``fe_cycles``) apart from the model's (``us``, ``cycles``)."""

    fe_us: int = 0
    fe_cycles: int = 0


@dataclass(frozen=True)
class FeaturesChunk:
    """``OK FEATURES <offset> <hex>``: int8 features the last ``HEAR`` computed, from byte ``offset``."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class SelftestResult:
    """``OK SELFTEST <passed>/<total>``."""

    passed: int
    total: int


@dataclass(frozen=True)
class Ack:
    """``OK STREAM`` / ``OK STOP``: acknowledgements without data."""

    word: str


@dataclass(frozen=True)
class ErrorReply:
    """``ERR <code> [<detail>]``."""

    code: str
    detail: str = ""


@dataclass(frozen=True)
class Comment:
    """A ``# …`` line: human commentary without CRC, ignored by the harness."""

    text: str


Reply = (Boot | HelloInfo | LoadAck | InferResult | HearResult | FeaturesChunk | SelftestResult | Ack | ErrorReply
         | Comment)


def _keys(tokens: list[str]) -> dict[str, str]:
    """``key=value`` tokens as a dict (later versions may append keys: unknown ones are kept, never required)."""
    pairs = {}
    for tok in tokens:
        key, sep, value = tok.partition("=")
        if not sep:
            raise ProtocolError(f"expected key=value, got {tok!r}")
        pairs[key] = value
    return pairs


def _int(text: str, what: str, signed: bool = False) -> int:
    if not (_SIGNED if signed else _DECIMAL).fullmatch(text):
        raise ProtocolError(f"{what}: not a decimal integer: {text!r}")
    return int(text)


def _parse_hello(kv: dict[str, str]) -> HelloInfo:
    try:
        frames, _, coeffs = kv["in"].partition("x")
        labels = tuple(kv["labels"].split(","))
        info = HelloInfo(
            proto=_int(kv["proto"], "proto"), fw=kv["fw"], model=kv["model"],
            frames=_int(frames, "in"), coeffs=_int(coeffs, "in"),
            in_scale=hex_to_f32(kv["in_scale"]), in_zp=_int(kv["in_zp"], "in_zp", signed=True),
            outputs=_int(kv["out"], "out"), out_scale=hex_to_f32(kv["out_scale"]),
            out_zp=_int(kv["out_zp"], "out_zp", signed=True), arena=_int(kv["arena"], "arena"), labels=labels,
            engine=kv.get("engine", ""),
            minor=_int(kv["minor"], "minor") if "minor" in kv else 0,
            audio=_int(kv.get("audio", "0"), "audio"), rate=_int(kv.get("rate", "0"), "rate"),
            min_score=_int(kv["min_score"], "min_score", signed=True) if "min_score" in kv else None,
        )
    except KeyError as e:
        raise ProtocolError(f"HELLO reply lacks key {e.args[0]}") from None
    if len(labels) != info.outputs or not all(_LABEL.fullmatch(x) for x in labels):
        raise ProtocolError(f"HELLO reply: {len(labels)} labels for out={info.outputs} or bad label characters")
    return info


def _parse_infer(kv: dict[str, str], word: str = "INFER") -> InferResult:
    try:
        scores = tuple(_int(s, "scores", signed=True) for s in kv["scores"].split(","))
        common = {"us": _int(kv["us"], "us"), "cycles": _int(kv["cycles"], "cycles"), "top": _int(kv["top"], "top"),
                  "scores": scores, "value": hex_to_f32(kv["value"]) if "value" in kv else None,
                  "answer": kv.get("answer")}
        if word == "HEAR":
            result: InferResult = HearResult(**common, fe_us=_int(kv["fe_us"], "fe_us"),
                                             fe_cycles=_int(kv["fe_cycles"], "fe_cycles"))
        else:
            result = InferResult(**common)
    except KeyError as e:
        raise ProtocolError(f"{word} reply lacks key {e.args[0]}") from None
    if not all(-128 <= s <= 127 for s in scores) or not 0 <= result.top < len(scores):
        raise ProtocolError("INFER reply: score out of int8 range or top index out of range")
    if result.answer is not None and result.answer not in ANSWERS:
        raise ProtocolError(f"{word} reply: answer {result.answer!r} is none of {', '.join(ANSWERS)}")
    return result


def parse_device_line(raw: bytes) -> Reply | None:
    """Verify and parse one line from the device.

    Parameters
    ----------
    raw : bytes
        One received line, with or without its ``\\r``/``\\n``.

    Returns
    -------
    Reply or None
        The parsed line; ``None`` for an empty line.

    Raises
    ------
    ChecksumError
        A protocol line without a CRC, or whose CRC does not match.
    ProtocolError
        The line is not valid protocol text.
    """
    line = clean_line(raw)
    if not line:
        return None
    if line.startswith(COMMENT_PREFIX):
        return Comment(line[len(COMMENT_PREFIX):].decode("ascii", "replace"))
    body, has_crc = split_crc(line)
    if not has_crc:
        raise ChecksumError("protocol line without CRC")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("non-ASCII bytes in line") from None
    tokens = text.split(" ")
    head = tokens[0]
    if head == BOOT_WORD:
        kv = _keys(tokens[1:])
        try:
            return Boot(proto=_int(kv["proto"], "proto"), fw=kv["fw"], model=kv["model"])
        except KeyError as e:
            raise ProtocolError(f"BOOT line lacks key {e.args[0]}") from None
    if head == ERR_WORD:
        if len(tokens) < 2 or tokens[1] not in ERROR_CODES:
            raise ProtocolError(f"unknown error reply {text!r}")
        return ErrorReply(tokens[1], " ".join(tokens[2:]))
    if head != OK_WORD or len(tokens) < 2:
        raise ProtocolError(f"not a protocol line: {text[:60]!r}")
    word, rest = tokens[1], tokens[2:]
    if word == "HELLO":
        return _parse_hello(_keys(rest))
    if word in DATA_COMMANDS and len(rest) == 1:
        return LoadAck(_int(rest[0], "filled"), word)
    if word in ("INFER", "HEAR"):
        return _parse_infer(_keys(rest), word)
    if word == "FEATURES" and len(rest) == 2 and _HEX_PAYLOAD.fullmatch(rest[1]):
        return FeaturesChunk(_int(rest[0], "offset"), bytes.fromhex(rest[1]))
    if word == "SELFTEST" and len(rest) == 1:
        passed, _, total = rest[0].partition("/")
        return SelftestResult(_int(passed, "passed"), _int(total, "total"))
    if word in ("STREAM", "STOP") and not rest:
        return Ack(word)
    raise ProtocolError(f"malformed OK reply: {text[:60]!r}")


# --- Device-side encoders (used by the virtual device) ---


def encode_boot(fw: str, model: str) -> bytes:
    """``BOOT proto=<version> fw=<fw> model=<hash>`` line."""
    return frame(f"{BOOT_WORD} proto={PROTOCOL_VERSION} fw={fw} model={model}")


def encode_hello(info: HelloInfo) -> bytes:
    """``OK HELLO …`` line for ``info``."""
    return frame(
        f"{OK_WORD} HELLO proto={info.proto} fw={info.fw} model={info.model} in={info.frames}x{info.coeffs} "
        f"in_scale={f32_to_hex(info.in_scale)} in_zp={info.in_zp} out={info.outputs} "
        f"out_scale={f32_to_hex(info.out_scale)} out_zp={info.out_zp} arena={info.arena} "
        f"labels={','.join(info.labels)}" + (f" engine={info.engine}" if info.engine else "")
        + f" audio={info.audio} rate={info.rate}" + (f" minor={info.minor}" if info.minor else "")
        + (f" min_score={info.min_score}" if info.min_score is not None else "")
    )


def encode_load_ack(filled: int, word: str = "LOAD") -> bytes:
    """``OK LOAD <filled>`` (or ``OK AUDIO <filled>``) line."""
    return frame(f"{OK_WORD} {word} {filled}")


def encode_infer(result: InferResult) -> bytes:
    """``OK INFER us=… cycles=… top=… scores=… [value=…] [answer=…]`` line, or ``OK HEAR fe_us=… fe_cycles=…
    us=…`` for a ``HearResult``."""
    scores = ",".join(str(s) for s in result.scores)
    value = "" if result.value is None else f" value={f32_to_hex(result.value)}"
    value += "" if result.answer is None else f" answer={result.answer}"
    rest = f"us={result.us} cycles={result.cycles} top={result.top} scores={scores}{value}"
    if isinstance(result, HearResult):
        return frame(f"{OK_WORD} HEAR fe_us={result.fe_us} fe_cycles={result.fe_cycles} {rest}")
    return frame(f"{OK_WORD} INFER {rest}")


def encode_features(offset: int, data: bytes) -> bytes:
    """``OK FEATURES <offset> <hex>`` line."""
    return frame(f"{OK_WORD} FEATURES {offset} {int8_to_hex(data)}")


def encode_selftest(passed: int, total: int) -> bytes:
    """``OK SELFTEST <passed>/<total>`` line."""
    return frame(f"{OK_WORD} SELFTEST {passed}/{total}")


def encode_ack(word: str) -> bytes:
    """``OK STREAM`` / ``OK STOP`` line."""
    return frame(f"{OK_WORD} {word}")


def encode_error(code: str, detail: str = "") -> bytes:
    """``ERR <code> [<detail>]`` line."""
    return frame(f"{ERR_WORD} {code} {detail}" if detail else f"{ERR_WORD} {code}")


def encode_comment(text: str) -> bytes:
    """``# <text>`` human line (no CRC)."""
    return COMMENT_PREFIX + text.encode("ascii") + EOL


def encode_reply(reply: Reply) -> bytes:
    """Encode any parsed device line back to its bytes (``parse_device_line``'s inverse)."""
    if isinstance(reply, Boot):
        return encode_boot(reply.fw, reply.model)
    if isinstance(reply, HelloInfo):
        return encode_hello(reply)
    if isinstance(reply, LoadAck):
        return encode_load_ack(reply.filled, reply.word)
    if isinstance(reply, FeaturesChunk):
        return encode_features(reply.offset, reply.data)
    if isinstance(reply, InferResult):
        return encode_infer(reply)
    if isinstance(reply, SelftestResult):
        return encode_selftest(reply.passed, reply.total)
    if isinstance(reply, Ack):
        return encode_ack(reply.word)
    if isinstance(reply, ErrorReply):
        return encode_error(reply.code, reply.detail)
    return encode_comment(reply.text)


def top_index(scores: list[int] | tuple[int, ...]) -> int:
    """Index of the largest score, the first one on ties (what the firmware reports as ``top``)."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))

