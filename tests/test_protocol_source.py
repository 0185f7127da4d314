"""One source for the serial protocol's constants and for the generated firmware files.

``firmware/src/core/protocol.h`` (with ``crc16.h``) is the source of every protocol constant: parsed here, it must
agree with the Python mirror ``host/protocol.py``, the specification ``firmware/PROTOCOL.md``, the golden vectors
(which must be exactly what ``firmware/tools/make_golden_vectors.py`` writes) and the fuzzer's dictionary.
The firmware's test fixture is written by the production code generator, and every name a generated header
declares must be read somewhere in ``firmware/src``.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from host import protocol as p

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
PROTOCOL_H = FIRMWARE / "src/core/protocol.h"
DOC = FIRMWARE / "PROTOCOL.md"
GOLDEN = FIRMWARE / "protocol/golden_vectors.txt"
NUMBER_WORDS = {2: "two", 4: "four"}  # how PROTOCOL.md spells small counts


@dataclass(frozen=True)
class ProtocolHeader:
    """The constants of protocol.h: integers, strings (in declaration order) and error codes (in enum order)."""

    ints: dict[str, int]
    strings: dict[str, str]
    error_codes: tuple[str, ...]

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(v for k, v in self.strings.items() if k.startswith("kCmd"))


def parse_protocol_header(text: str) -> ProtocolHeader:
    """Parse protocol.h; fails on a ``constexpr`` it cannot read, so no constant escapes the checks."""
    ints = {k: int(v, 0) for k, v in re.findall(r"^constexpr (?:int|size_t) (k\w+) = (\w+);", text, re.M)}
    strings = dict(re.findall(r'^constexpr char (k\w+)\[\] = "([^"\\]*)";', text, re.M))
    declared = re.findall(r"^constexpr .*?\b(k\w+)\b", text, re.M)
    assert sorted(declared) == sorted([*ints, *strings]), f"{PROTOCOL_H}: constants the test cannot parse"
    members = re.findall(r"\bk\w+", re.search(r"enum class Error \{([^}]*)\}", text).group(1))
    codes = dict(re.findall(r'case Error::(k\w+): return "([a-z-]+)";', text))
    assert members[0] == "kNone" and sorted(codes) == sorted(members[1:]), "every Error but kNone needs a code"
    return ProtocolHeader(ints, strings, tuple(codes[m] for m in members[1:]))


@pytest.fixture(scope="module")
def header() -> ProtocolHeader:
    return parse_protocol_header(PROTOCOL_H.read_text())


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


def c_constant(path: Path, name: str) -> int:
    """An integer ``constexpr`` of a C++ file (hex or decimal)."""
    return int(re.search(rf"constexpr \w+ {name} = (\w+);", path.read_text()).group(1), 0)


def test_parser_reads_a_header_and_refuses_what_it_cannot_parse() -> None:
    text = ('constexpr int kVersion = 3;\nconstexpr char kOk[] = "OK";\n'
            'enum class Error {\n  kNone,\n  kCrc,\n};\ncase Error::kCrc: return "crc";\n')
    parsed = parse_protocol_header(text)
    assert parsed == ProtocolHeader({"kVersion": 3}, {"kOk": "OK"}, ("crc",))
    with pytest.raises(AssertionError, match="cannot parse"):
        parse_protocol_header(text + "constexpr float kRate = 1.5f;\n")
    with pytest.raises(AssertionError, match="needs a code"):
        parse_protocol_header(text.replace("kCrc,", "kCrc,\n  kRange,"))


def test_python_mirror_equals_protocol_h(header: ProtocolHeader) -> None:
    mirror = {
        "kVersion": p.PROTOCOL_VERSION, "kMaxLine": p.PROTO_MAX_LINE, "kMaxChunk": p.PROTO_MAX_CHUNK,
        "kMinorVersion": p.PROTOCOL_MINOR,
        "kCrcSeparator": p.CRC_SEPARATOR.decode(), "kCrcSeparatorLen": len(p.CRC_SEPARATOR),
        "kCrcHexDigits": p.CRC_HEX_DIGITS, "kCommentPrefix": p.COMMENT_PREFIX.decode(),
        "kBoot": p.BOOT_WORD, "kOk": p.OK_WORD, "kErr": p.ERR_WORD,
        "kAnswerWord": p.ANSWERS[0], "kAnswerNotAWord": p.ANSWERS[1], "kAnswerLowConfidence": p.ANSWERS[2],
    }
    source = header.ints | {k: v for k, v in header.strings.items() if not k.startswith("kCmd")}
    assert source == mirror
    assert p.COMMANDS == header.commands
    assert p.ERROR_CODES == header.error_codes
    assert p.CRC_INIT == c_constant(FIRMWARE / "src/core/crc16.h", "kInit")


def test_protocol_md_equals_protocol_h(header: ProtocolHeader, doc: str) -> None:
    ints, strings = header.ints, header.strings
    assert re.search(r"^# Serial protocol, version (\d+)$", doc, re.M).group(1) == str(ints["kVersion"])
    assert set(re.findall(r"proto=(\d+)", doc)) == {str(ints["kVersion"])}
    assert set(re.findall(r"minor=(\d+)", doc)) == {str(ints["kMinorVersion"])}
    assert re.search(r"`PROTO_MAX_LINE` = (\d+)", doc).group(1) == str(ints["kMaxLine"])
    assert re.search(r"`PROTO_MAX_CHUNK` = (\d+)", doc).group(1) == str(ints["kMaxChunk"])
    # Framing: separator, CRC digits, comment prefix, CRC parameters of crc16.{h,cc} (phrases, across line breaks).
    text = re.sub(r"\s+", " ", doc)
    sep = strings["kCrcSeparator"]
    assert f"the {NUMBER_WORDS[len(sep)]}-byte separator `{sep}`" in text
    assert f"exactly {NUMBER_WORDS[ints['kCrcHexDigits']]} uppercase hexadecimal digits" in text
    assert f"Lines that begin with `{strings['kCommentPrefix']}`" in text
    poly = c_constant(FIRMWARE / "src/core/crc16.cc", "kPolynomial")
    init = c_constant(FIRMWARE / "src/core/crc16.h", "kInit")
    assert f"polynomial 0x{poly:04X}, initial value 0x{init:04X}" in text
    assert f"`123456789` is `{p.crc16(b'123456789'):04X}`" in text
    # Messages: the command table in header order, its replies, BOOT and ERR lines.
    table = doc[doc.index("| command | reply on success |"):]
    table = table[:table.index("\n\n")]
    rows = re.findall(r"^\| `(\w+)[^|]*\| `(\w+) (\w+)", table, re.M)
    assert tuple(word for word, _, _ in rows) == header.commands
    assert all(ok == strings["kOk"] and echo == word for word, ok, echo in rows), rows
    assert f"| `{strings['kBoot']} proto=" in doc
    assert f"`{strings['kErr']} <code> [<detail>] *CRC`" in text
    # Errors: the table and the order of the checks.
    assert tuple(re.findall(r"^\| `([a-z-]+)` \|", doc, re.M)) == header.error_codes
    order = re.search(r"first check in table order wins \(([^)]*)\)", doc).group(1)
    assert tuple(re.findall(r"`([a-z-]+)`", order)) == header.error_codes


def golden_text() -> str:
    return GOLDEN.read_text(encoding="utf-8")


def test_golden_vectors_are_the_generators_output() -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(FIRMWARE / "tools/make_golden_vectors.py")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == golden_text(), \
        f"{GOLDEN} is stale: regenerate it with firmware/tools/make_golden_vectors.py"


def test_golden_vectors_cover_every_error_code_and_command(header: ProtocolHeader) -> None:
    text = golden_text()
    missing = [f"ERR {c}" for c in header.error_codes if f"ERR {c}" not in text]
    missing += [f"OK {w}" for w in header.commands if f"OK {w}" not in text]
    assert not missing


def test_reference_configuration_of_protocol_md_is_the_golden_vectors_hello(doc: str) -> None:
    block = doc[doc.index("for a reference device configuration:"):]
    block = block[:block.index("\n\n", block.index("    "))]
    doc_keys = dict(re.findall(r"(\w+)=(\S+)", block))
    fields = next(line.split("\t") for line in golden_text().splitlines() if line.startswith("hello\t"))
    info = p.parse_device_line(fields[2].replace("\\n", "\n").encode("ascii"))
    assert isinstance(info, p.HelloInfo)
    assert doc_keys == {
        "fw": info.fw, "model": info.model, "in": f"{info.frames}x{info.coeffs}",
        "in_scale": p.f32_to_hex(info.in_scale), "in_zp": str(info.in_zp), "out": str(info.outputs),
        "out_scale": p.f32_to_hex(info.out_scale), "out_zp": str(info.out_zp), "arena": str(info.arena),
        "labels": ",".join(info.labels), "engine": info.engine, "audio": str(info.audio), "rate": str(info.rate),
        "minor": str(info.minor), "min_score": str(info.min_score),
    }


def test_fuzz_dictionary_has_every_command_word(header: ProtocolHeader) -> None:
    tokens = re.findall(r'^"(.*)"$', (FIRMWARE / "tests/fuzz.dict").read_text(), re.M)
    assert set(header.commands) | {header.strings["kCrcSeparator"]} <= set(tokens)


# ---- generated firmware files ------------------------------------------------------------------------------


def load_make_fixture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_fixture", FIRMWARE / "tests/make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_files() -> list[str]:
    """The files a TFLM build copies from build/gen/ (firmware/sources.mk's FW_GEN_FILES_tflm)."""
    sys.path.insert(0, str(FIRMWARE / "tools"))
    import sources

    return sources.generated_files("tflm")


def declared_names(header_text: str) -> list[str]:
    """Names a generated header declares: ``constexpr … kName`` and ``extern … g_name``."""
    return re.findall(r"^(?:constexpr|extern) [^=;\[]*?\b(k[A-Z]\w*|g_\w+)\s*[=\[;]", header_text, re.M)


def firmware_code() -> str:
    """The firmware's own sources (not the generated files, not unit tests), comments removed."""
    texts = []
    for path in sorted((FIRMWARE / "src").rglob("*")):
        if path.suffix not in (".h", ".cc", ".ino") or "generated" in path.relative_to(FIRMWARE / "src").parts:
            continue
        if path.name.endswith("_test.cc"):
            continue
        text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        texts.append(re.sub(r"//.*", "", text))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gen = tmp_path_factory.mktemp("fixture") / "generated"
    load_make_fixture().write_fixture(gen)
    return gen


def test_fixture_is_written_by_the_code_generator(fixture_dir: Path) -> None:
    assert sorted(f.name for f in fixture_dir.iterdir()) == sorted(generated_files())
    source = (FIRMWARE / "tests/make_fixture.py").read_text()
    assert "constexpr" not in source and "extern" not in source, "make_fixture.py writes C itself"
    for path in fixture_dir.iterdir():
        assert path.read_text().startswith("// Generated by quantize/codegen.py"), path.name


def test_declared_names_are_found() -> None:
    text = ("constexpr int kA = 1;\nconstexpr const char* kB[kA] = {};\nconstexpr char kC[] = \"x\";\n"
            "extern const int8_t g_d[kA][kA];\nextern const unsigned char g_e[];\n")
    assert declared_names(text) == ["kA", "kB", "kC", "g_d", "g_e"]


def test_every_generated_name_has_a_reader_in_firmware_src(fixture_dir: Path) -> None:
    names = [n for h in sorted(fixture_dir.glob("*.h")) for n in declared_names(h.read_text())]
    assert len(names) >= 10, names  # the parser found the declarations
    code = firmware_code()
    unread = [n for n in names if not re.search(rf"\b{n}\b", code)]
    assert not unread, f"generated but read nowhere in firmware/src: {unread}"
