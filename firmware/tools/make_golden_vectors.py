"""Writes firmware/protocol/golden_vectors.txt from PROTOCOL.md's rules, computed independently of the C++ core.

The text file is the contract (checked by the C++ unit tests and the Python mirror); this script only saves
writing CRCs by hand. The protocol's constants come from host/protocol.py (checked against protocol.h by
tests/test_protocol_source.py, which also checks that the file is this script's output); framing, CRC and the fake
are computed here, apart from the mirror. Run from the repository root:
    PYTHONPATH=. python3 firmware/tools/make_golden_vectors.py > firmware/protocol/golden_vectors.txt
"""

import binascii
import struct

from host.protocol import (COMMENT_PREFIX, CRC_HEX_DIGITS, CRC_INIT, CRC_SEPARATOR, PROTO_MAX_CHUNK, PROTO_MAX_LINE,
                           PROTOCOL_MINOR, PROTOCOL_VERSION)

MAX_LINE = PROTO_MAX_LINE
MAX_CHUNK = PROTO_MAX_CHUNK
# PROTOCOL.md's reference device configuration.
FRAMES, COEFFS = 100, 13
INPUT_BYTES = FRAMES * COEFFS
LABELS = "zero,one,two,three,four,five,six,seven,eight,nine".split(",")
# The reference kMinWordScore: probability 0.5 ((0 + 128) / 256) is the lowest that is a word.
MIN_WORD_SCORE = 0
HELLO_REPLY = (
    f"OK HELLO proto={PROTOCOL_VERSION} fw=0.1.0 model=0123abcd in={FRAMES}x{COEFFS} in_scale=3D800000 in_zp=-128 "
    f"out={len(LABELS)} out_scale=3B800000 out_zp=-128 arena=9999 labels=" + ",".join(LABELS) + " engine=fake"
    + " audio=16000 rate=16000"
    + f" minor={PROTOCOL_MINOR} min_score={MIN_WORD_SCORE}"
)
# Reference self-test clips (PROTOCOL.md): clip 0 all 0x00 passes, clip 1 all 0x01 fails.
SELFTEST_CLIPS = [bytes(INPUT_BYTES), bytes([1]) * INPUT_BYTES]
SELFTEST_PASSED = 1


def crc(body: bytes) -> str:
    return f"{binascii.crc_hqx(body, CRC_INIT):0{CRC_HEX_DIGITS}X}"


def line(body: str, with_crc: bool = True) -> bytes:
    b = body.encode("latin-1")
    return b + (CRC_SEPARATOR + crc(b).encode() if with_crc else b"") + b"\n"


def fake_scores(clip: bytes):
    total = sum(clip)
    return [((total + 7 * i) & 0xFF) - 256 if ((total + 7 * i) & 0xFF) > 127 else (total + 7 * i) & 0xFF
            for i in range(len(LABELS))]


def top(scores):
    return scores.index(max(scores))


def answer(scores: list[int]) -> str:
    """The answer to a clip (no reference label starts with '_': a word or a low-confidence one)."""
    return "word" if scores[top(scores)] >= MIN_WORD_SCORE else "low-confidence"


def stream_line(index: int) -> bytes:
    scores = fake_scores(SELFTEST_CLIPS[index])
    t = top(scores)
    percent = int((scores[t] + 128) / 256 * 100 + 0.5)
    shown = LABELS[t] if answer(scores) == "word" else f"{answer(scores)}:{LABELS[t]}"
    return COMMENT_PREFIX + f"{index} {shown} {percent}% 1000us\n".encode()


def value_key(scores: list[int]) -> str:
    """`` value=``: the top score dequantized with the reference out_scale 1/256 and out_zp -128 (exact in
    binary32); then `` answer=``."""
    return (" value=" + struct.pack(">f", (scores[top(scores)] + 128) / 256).hex().upper()
            + f" answer={answer(scores)}")


def infer_reply(clip: bytes) -> bytes:
    scores = fake_scores(clip)
    return line(f"OK INFER us=1000 cycles=64000 top={top(scores)} scores=" + ",".join(map(str, scores))
                + value_key(scores))


def load(offset: int, data: bytes, with_crc: bool = True, word: str = "LOAD") -> bytes:
    return line(f"{word} {offset} {data.hex().upper()}", with_crc)


def fake_features(audio: bytes) -> bytes:
    """The reference fake front end: feature i = (number of samples + sum of the audio bytes + 3 i) & 0xFF."""
    total = len(audio) // 2 + sum(audio)
    return bytes((total + 3 * i) & 0xFF for i in range(INPUT_BYTES))


def hear_reply(audio: bytes) -> bytes:
    scores = fake_scores(fake_features(audio))
    return line("OK HEAR fe_us=2000 fe_cycles=128000 us=1000 cycles=64000 "
                f"top={top(scores)} scores=" + ",".join(map(str, scores)) + value_key(scores))


def escape(data: bytes) -> str:
    out = []
    for c in data:
        if c == 0x0A:
            out.append("\\n")
        elif c == 0x0D:
            out.append("\\r")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02X}")
    return "".join(out)


def err(code: str, detail: str = "") -> bytes:
    return line(f"ERR {code}" + (f" {detail}" if detail else ""))


def vectors():
    ok_hello = line(HELLO_REPLY)
    v = []
    add = lambda name, host, device: v.append((name, host, device))

    v.append(("# Handshake, CRC optional for typed commands, CR/LF handling", None, None))
    add("hello", b"HELLO\n", ok_hello)
    add("hello-crc", line("HELLO"), ok_hello)
    add("bad-hello-crlf", b"HELLO\r\n", ok_hello)
    add("bad-hello-cr-inside", b"\rHE\rLLO *49D6\r\r\n", ok_hello)
    add("bad-hello-crc-lower-case", b"HELLO *49d6\n", ok_hello)
    add("bad-empty-line", b"\n", b"")
    add("bad-empty-line-cr", b"\r\n", b"")
    add("bad-two-lines", b"HELLO\nSTOP\n", ok_hello + line("OK STOP"))

    v.append(("# CRC errors: a CRC that is present is always verified", None, None))
    add("bad-crc-mismatch", b"HELLO *49D7\n", err("crc"))
    add("bad-crc-short", b"HELLO *49D\n", err("crc"))
    add("bad-crc-long", b"HELLO *49D60\n", err("crc"))
    add("bad-crc-non-hex", b"HELLO *49DG\n", err("crc"))
    add("bad-crc-trailing-space", b"HELLO *49D6 \n", err("crc"))
    add("bad-crc-empty", b"HELLO *\n", err("crc"))
    add("bad-crc-load", b"LOAD 0 00 *0000\n", err("crc"))

    v.append(("# Unknown command words and syntax errors", None, None))
    add("bad-unknown", b"PING\n", err("unknown"))
    add("bad-unknown-with-crc", line("PING"), err("unknown"))
    add("bad-unknown-lower-case", b"hello\n", err("unknown"))
    add("bad-unknown-spaces", b"   \n", err("unknown"))
    add("bad-unknown-leading-space", b" HELLO\n", err("unknown"))
    add("bad-unknown-binary", b"\x00\x01\xfe\xff\n", err("unknown"))
    add("bad-unknown-crc-only", line(""), err("unknown"))
    add("bad-syntax-extra-token", b"HELLO now\n", err("syntax"))
    add("bad-syntax-trailing-space", b"HELLO \n", err("syntax"))
    add("bad-syntax-stop-extra", line("STOP 1"), err("syntax"))
    add("bad-no-crc", b"LOAD 0 00\n", err("no-crc"))
    add("bad-no-crc-syntax", b"LOAD\n", err("no-crc"))
    add("bad-load-missing-payload", line("LOAD 0"), err("syntax"))
    add("bad-load-odd-payload", line("LOAD 0 000"), err("syntax"))
    add("bad-load-non-hex-payload", line("LOAD 0 0G"), err("syntax"))
    add("bad-load-offset-not-decimal", line("LOAD x1 00"), err("syntax"))
    add("bad-load-offset-negative", line("LOAD -1 00"), err("syntax"))
    add("bad-load-offset-plus", line("LOAD +0 00"), err("syntax"))
    add("bad-load-double-space", line("LOAD  0 00"), err("syntax"))
    add("bad-load-extra-token", line("LOAD 0 00 00"), err("syntax"))

    v.append(("# Line length: PROTO_MAX_LINE bytes fit, one more is dropped up to the next \\n", None, None))
    add("bad-max-line", b"A" * MAX_LINE + b"\n", err("unknown"))
    add("bad-max-line-plus-cr", b"A" * MAX_LINE + b"\r\n", err("unknown"))
    add("bad-too-long", b"A" * (MAX_LINE + 1) + b"\n", err("too-long"))
    add("bad-too-long-load", load(0, bytes(MAX_LINE // 2)), err("too-long"))
    add("bad-too-long-then-hello", b"B" * (MAX_LINE + 100) + b"\nHELLO\n", err("too-long") + ok_hello)
    add("bad-garbage-then-hello", b"\x1b[A\x00garbage\xff\nHELLO *49D6\n", err("unknown") + ok_hello)

    v.append(("# One clip: LOAD sequence, order and range errors, INFER with the reference fake", None, None))
    clip = bytes((k * 37 + 11) & 0xFF for k in range(INPUT_BYTES))
    chunk = MAX_CHUNK
    last = (INPUT_BYTES - 1) // chunk * chunk  # offset of the clip's last chunk
    add("infer-empty", line("INFER"), err("incomplete", "filled=0"))
    add("load-0", load(0, clip[:chunk]), line(f"OK LOAD {chunk}"))
    add("bad-load-order", load(2 * chunk, clip[2 * chunk:2 * chunk + 1]), err("order", f"expected={chunk}"))
    add("bad-load-order-huge", load(99999999999, b"\x00"), err("order", f"expected={chunk}"))
    add("bad-load-chunk-too-long", load(chunk, clip[chunk:2 * chunk + 1]), err("range", f"max={chunk}"))
    for offset in range(chunk, last, chunk):
        add(f"load-{offset}", load(offset, clip[offset:offset + chunk]), line(f"OK LOAD {offset + chunk}"))
    # The last full chunk again (with \r\n): its offset is no longer the filled count.
    add(f"bad-load-{last - chunk}-crlf", load(last - chunk, clip[last - chunk:last])[:-1] + b"\r\n",
        err("order", f"expected={last}"))
    add("bad-load-past-end", load(last, clip[last:] + b"\x00"), err("range", f"max={INPUT_BYTES - last}"))
    add("infer-incomplete", b"INFER\n", err("incomplete", f"filled={last}"))
    add(f"load-{last}", load(last, clip[last:]), line(f"OK LOAD {INPUT_BYTES}"))
    add("bad-load-when-full", load(INPUT_BYTES, b"\x00"), err("range", "max=0"))
    add("infer", line("INFER"), infer_reply(clip))
    add("infer-again", b"INFER\n", err("incomplete", "filled=0"))

    v.append(("# Offset 0 discards a partial clip; lower-case payload hex is accepted", None, None))
    add("load-partial", load(0, bytes(range(16))), line("OK LOAD 16"))
    add("load-restart", load(0, bytes([0xFF] * 4)), line("OK LOAD 4"))
    add("bad-load-restart-order", load(5, b"\x00"), err("order", "expected=4"))
    add("bad-load-lower-case-hex", line("LOAD 4 ab"), line("OK LOAD 5"))
    add("bad-load-crlf", load(5, b"\x01\x02")[:-1] + b"\r\n", line("OK LOAD 7"))

    v.append(("# The reference fake fails on a clip of nothing but 0x80: ERR invoke, and the input is emptied", None, None))
    fail_clip = bytes([0x80]) * INPUT_BYTES
    for offset in range(0, INPUT_BYTES, MAX_CHUNK):
        chunk = fail_clip[offset:offset + MAX_CHUNK]
        add(f"load-fail-{offset}", load(offset, chunk), line(f"OK LOAD {offset + len(chunk)}"))
    add("infer-fails", line("INFER"), err("invoke"))
    add("infer-after-failure", line("INFER"), err("incomplete", "filled=0"))

    v.append(("# Protocol 2: raw audio in AUDIO chunks, HEAR (front end + model), FEATURES of the last HEAR", None,
              None))
    audio = bytes((k * 53 + 7) & 0xFF for k in range(600))  # 300 samples
    features = fake_features(audio)
    add("hear-empty", line("HEAR"), err("incomplete", "filled=0"))
    add("features-before-hear", b"FEATURES 0\n", err("incomplete", "filled=0"))
    add("bad-no-crc-audio", b"AUDIO 0 0000\n", err("no-crc"))
    add("bad-audio-odd-payload", line("AUDIO 0 000"), err("syntax"))
    add("bad-features-no-offset", line("FEATURES"), err("syntax"))
    add("bad-features-offset-not-decimal", b"FEATURES x\n", err("syntax"))
    add("bad-hear-extra-token", b"HEAR 0\n", err("syntax"))
    add("audio-0", load(0, audio[:MAX_CHUNK], word="AUDIO"), line(f"OK AUDIO {MAX_CHUNK}"))
    add("bad-audio-order", load(0 + 1, audio[:2], word="AUDIO"), err("order", f"expected={MAX_CHUNK}"))
    add("bad-audio-chunk-too-long", load(MAX_CHUNK, audio[:MAX_CHUNK] + b"\x00", word="AUDIO"),
        err("range", f"max={MAX_CHUNK}"))
    add(f"audio-{MAX_CHUNK}", load(MAX_CHUNK, audio[MAX_CHUNK:2 * MAX_CHUNK], word="AUDIO"),
        line(f"OK AUDIO {2 * MAX_CHUNK}"))
    add("audio-odd", load(2 * MAX_CHUNK, audio[2 * MAX_CHUNK:2 * MAX_CHUNK + 1], word="AUDIO"),
        line(f"OK AUDIO {2 * MAX_CHUNK + 1}"))
    add("hear-odd", b"HEAR\n", err("incomplete", f"filled={2 * MAX_CHUNK + 1}"))
    add(f"audio-{2 * MAX_CHUNK + 1}", load(2 * MAX_CHUNK + 1, audio[2 * MAX_CHUNK + 1:], word="AUDIO"),
        line(f"OK AUDIO {len(audio)}"))
    add("hear", line("HEAR"), hear_reply(audio))
    add("hear-again", b"HEAR\n", err("incomplete", "filled=0"))
    for offset in range(0, INPUT_BYTES, MAX_CHUNK):
        add(f"features-{offset}", line(f"FEATURES {offset}") if offset else b"FEATURES 0\n",
            line(f"OK FEATURES {offset} " + features[offset:offset + MAX_CHUNK].hex().upper()))
    add("features-last-byte", line(f"FEATURES {INPUT_BYTES - 1}"),
        line(f"OK FEATURES {INPUT_BYTES - 1} " + features[-1:].hex().upper()))
    add("bad-features-past-end", line(f"FEATURES {INPUT_BYTES}"), err("range", "max=0"))
    add("load-replaces-features", load(0, b"\x00"), line("OK LOAD 1"))
    add("features-after-load", line("FEATURES 0"), err("incomplete", "filled=0"))
    add("audio-fails", load(0, b"\x00\x80\x01\x00", word="AUDIO"), line("OK AUDIO 4"))
    add("hear-fails", line("HEAR"), err("invoke"))
    add("features-after-failure", line("FEATURES 0"), err("incomplete", "filled=0"))
    add("infer-after-hear", line("INFER"), err("incomplete", "filled=0"))

    v.append(("# Self-test and stream mode; after each vector the device idles once (one stream line)", None, None))
    selftest = line(f"OK SELFTEST {SELFTEST_PASSED}/{len(SELFTEST_CLIPS)}")
    add("selftest", b"SELFTEST\n", selftest)
    add("selftest-crc", line("SELFTEST"), selftest)
    add("stop-not-streaming", b"STOP\n", line("OK STOP"))
    add("stream", line("STREAM"), line("OK STREAM") + stream_line(0))
    add("bad-stream-idle", b"", stream_line(1))
    add("bad-stream-idle-wraps", b"", stream_line(0))
    add("stop", line("STOP"), line("OK STOP"))
    add("bad-idle-after-stop", b"", b"")
    add("stream-restarts", b"STREAM\n", line("OK STREAM") + stream_line(0))
    add("hello-ends-stream", b"HELLO\n", ok_hello)
    add("stream-again", b"STREAM\n", line("OK STREAM") + stream_line(0))
    add("bad-empty-line-ends-stream", b"\n", b"")
    add("stream-and-error", b"STREAM\n", line("OK STREAM") + stream_line(0))
    add("bad-garbage-ends-stream", b"xyz\n", err("unknown"))
    add("hello-final", line("HELLO"), ok_hello)
    return v


def main():
    print("# Golden byte sequences of the serial protocol (format: firmware/PROTOCOL.md, \"Golden vectors\").")
    print("# Written by firmware/tools/make_golden_vectors.py; the reference configuration and fake are in PROTOCOL.md.")
    print("# <name> TAB <host bytes> TAB <device bytes>; one device session, freshly booted, in file order.")
    for name, host, device in vectors():
        if host is None:
            print()
            print(name)
            continue
        assert "\t" not in name and not name.startswith("#")
        print(f"{name}\t{escape(host)}\t{escape(device)}")


if __name__ == "__main__":
    main()
