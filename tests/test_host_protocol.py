"""The Python protocol mirror and the virtual device against the firmware's golden byte vectors."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from host import protocol as p
from host.virtual_backends import FakeBackend
from host.virtual_session import DeviceSession

GOLDEN = Path(__file__).resolve().parent.parent / "firmware" / "protocol" / "golden_vectors.txt"
_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[nrt\\])")
_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"\\": b"\\"}


def unescape(text: str) -> bytes:
    """Bytes of a field written with C escapes (``\\n``, ``\\r``, ``\\t``, ``\\\\``, ``\\xNN``)."""
    return _ESCAPE.sub(lambda m: _SIMPLE.get(m.group(1)) or bytes([int(m.group(1)[1:], 16)]),
                       text.encode("utf-8"))


def read_vectors(path: Path) -> list[tuple[str, bytes, bytes]]:
    """(name, host bytes, device bytes) of every vector, in file order."""
    vectors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 3, f"{path}:{number}: expected 3 TAB-separated fields, got {len(fields)}"
        vectors.append((fields[0], unescape(fields[1]), unescape(fields[2])))
    return vectors


@pytest.fixture(scope="module")
def vectors() -> list[tuple[str, bytes, bytes]]:
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: the firmware's golden vectors are the protocol contract"
    found = read_vectors(GOLDEN)
    assert found, f"{GOLDEN} holds no vectors"
    return found


def lines_of(data: bytes) -> list[bytes]:
    """Lines of a byte string, each with its ``\\n``."""
    return data.splitlines(keepends=True)


def test_unescape_reads_c_escapes() -> None:
    assert unescape(r"A\n\r\t\\\x00\xFF") == b"A\n\r\t\\\x00\xff"


def test_crc_matches_protocol_check_value_and_example() -> None:
    assert p.crc16(b"123456789") == 0x29B1
    assert p.frame("HELLO") == b"HELLO *49D6\n"
    assert p.f32_to_hex(0.0625) == "3D800000"
    assert p.hex_to_f32("3B800000") == 1 / 256


def test_every_device_line_verifies_parses_and_reencodes(vectors: list[tuple[str, bytes, bytes]]) -> None:
    checked = 0
    for name, _, device in vectors:
        for raw in lines_of(device):
            reply = p.parse_device_line(raw)
            assert reply is not None, name
            assert p.encode_reply(reply) == raw, name
            checked += 1
    assert checked > 0


def test_well_formed_host_commands_reencode_exactly(vectors: list[tuple[str, bytes, bytes]]) -> None:
    reencoded = 0
    for name, host, _ in vectors:
        if name.startswith("bad-"):
            continue
        for raw in lines_of(host):
            cmd = p.parse_command(p.clean_line(raw))
            assert p.encode_command(cmd.word, cmd.offset, cmd.payload, crc=cmd.crc) == raw, name
            reencoded += 1
    assert reencoded > 0


def test_virtual_device_answers_every_vector_byte_for_byte(vectors: list[tuple[str, bytes, bytes]]) -> None:
    session = DeviceSession(FakeBackend())
    session.boot()  # the vectors start after BOOT, which they do not include
    mismatches = []
    for name, host, device in vectors:
        answer = session.feed(host) + session.idle()  # the vectors idle the device once after each
        if answer != device:
            mismatches.append(f"{name}: expected {device!r}, got {answer!r}")
    assert not mismatches, "\n".join(mismatches)


def test_boot_line_and_self_test_comment() -> None:
    out = DeviceSession(FakeBackend()).boot()
    boot, comment = lines_of(out)
    assert p.parse_device_line(boot) == p.Boot(proto=2, fw="0.1.0", model="0123abcd")
    assert p.parse_device_line(comment) == p.Comment("self-test 1/2 identical to host")


@pytest.mark.parametrize("raw", [
    b"OK LOAD 256 *0248\n",  # one CRC digit changed
    b"OK LOAD 256\n",  # protocol line without CRC
    b"OK LOAD 256 *02\n",  # truncated CRC
])
def test_damaged_device_lines_fail_the_checksum(raw: bytes) -> None:
    with pytest.raises(p.ChecksumError):
        p.parse_device_line(raw)


@pytest.mark.parametrize("body", [
    "OK INFER us=1 cycles=64 top=0 scores=1,200",  # score outside int8
    "OK INFER us=1 cycles=64 top=5 scores=1,2",  # top outside the scores
    "OK INFER us=1 top=0 scores=1,2",  # missing key
    "OK HELLO proto=1",  # truncated HELLO
    "ERR bogus",  # unknown error code
    "HELLO",  # a command echoed back is not a reply
])
def test_malformed_replies_with_valid_crc_are_rejected(body: str) -> None:
    with pytest.raises(p.ProtocolError):
        p.parse_device_line(p.frame(body))


def test_unknown_hello_keys_are_ignored() -> None:
    body = p.encode_hello(FakeBackend().info).split(b" *")[0].decode() + " later_key=1"
    assert p.parse_device_line(p.frame(body)) == FakeBackend().info


def test_audio_replies_round_trip() -> None:
    hear = p.HearResult(us=10, cycles=20, top=1, scores=(3, 4), fe_us=5, fe_cycles=6)
    assert p.parse_device_line(p.encode_infer(hear)) == hear
    assert p.parse_device_line(p.encode_features(1280, b"\x01\xff")) == p.FeaturesChunk(1280, b"\x01\xff")
    assert p.parse_device_line(p.encode_load_ack(32000, "AUDIO")) == p.LoadAck(32000, "AUDIO")
    assert p.parse_command(p.encode_command("AUDIO", 2, b"\x00\x80")[:-1]) == p.Command("AUDIO", 2, b"\x00\x80")
    assert p.parse_command(b"FEATURES 256") == p.Command("FEATURES", 256, crc=False)
    with pytest.raises(p.ProtocolError):
        p.parse_device_line(p.frame("OK HEAR us=1 cycles=2 top=0 scores=1,2"))  # HEAR without the front end's keys


def test_hello_of_a_version_1_device_has_no_audio() -> None:
    body = p.encode_hello(FakeBackend().info).split(b" audio=")[0].decode().replace("proto=2", "proto=1")
    info = p.parse_device_line(p.frame(body))
    assert (info.proto, info.audio, info.rate) == (1, 0, 0)
