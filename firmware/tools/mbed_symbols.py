"""Which undefined symbols of the board link mbed-os supplies (board_check.py links without libmbed.a, so every
mbed-os symbol stays undefined; anything else undefined is a defect). Standard library only.

What "supplied by mbed-os" means:
  * `__wrap_<f>` for every `-Wl,--wrap,<f>` of the variant's ldflags.txt (mbed-os's malloc/exit/main wrappers);
  * C symbols declared at file scope (outside any class, struct or function body; extern "C" blocks count as file
    scope) in a header under cores/arduino/mbed/: the HAL, RTOS (CMSIS-RTOS2/RTX), USB, nRF SDK and platform C APIs;
  * C++ symbols whose outermost scope is a namespace, class or struct declared at file scope in those headers
    (mbed::, rtos::, events::, USBDevice, ...), including their vtables, and C++ functions declared at file scope
    there (get_usb_phy()).
Everything else, e.g. `setup` and `loop` when main_arduino.cc gives them C++ linkage, or any arduino:: or TFLM symbol,
is a defect. libmbed.a's own objects are not in the link, so symbols that only they would reference are not seen.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path


def strip_code(text: str) -> str:
    """Header text without comments, string literals and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def file_scope_declarations(text: str) -> tuple[set[str], set[str]]:
    """(function/variable names, namespace/class/struct names) declared at file scope of one header."""
    names, scopes = set(), set()
    depth, top_chunks, start = 0, [], 0
    code = strip_code(text)
    stack: list[bool] = []  # for each open brace: does it stay at file scope (extern "C" block)?
    for m in re.finditer(r"[{};]", code):
        if depth == 0:
            top_chunks.append(code[start:m.start() + 1])
        if m.group() == "{":
            transparent = bool(re.search(r'extern\s*""\s*$', code[start:m.start()])) and depth == 0
            stack.append(transparent)
            if not transparent:
                head = code[start:m.start()]
                scope = re.search(
                    r"\b(?:namespace|class|struct|union|enum(?:\s+class)?)\s+(?:\w+\s+)*?(\w+)\s*(?::[^{]*)?$", head)
                if depth == 0 and scope:
                    scopes.add(scope.group(1))
                depth += 1
        elif m.group() == "}" and stack:
            if not stack.pop():
                depth -= 1
        start = m.end()
    for chunk in top_chunks:
        chunk = chunk.strip()
        if chunk.endswith(";") or chunk.endswith("{"):
            # "type name(args);" or "type (name)(args);" (mbed's HAL guards some names against macros this way)
            call = re.search(r"\b([A-Za-z_]\w*)\)?\s*\((?:[^()]|\([^()]*\))*\)[^();{]*[;{]$", chunk)
            if call and re.search(r"[\w*&>]\s+\**\s*\(?" + re.escape(call.group(1)) + r"\)?\s*\(", chunk):
                names.add(call.group(1))
            var = re.search(r"^(?:extern\s+)?[\w\s*:<>,]+?[\s*]([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?;$", chunk)
            if var and "(" not in chunk and not chunk.startswith(("typedef", "using", "namespace")):
                names.add(var.group(1))
    return names, scopes


def mbed_declarations(core_path: Path) -> tuple[set[str], set[str]]:
    names, scopes = set(), set()
    for header in (core_path / "mbed").rglob("*.h"):
        n, s = file_scope_declarations(header.read_text(errors="replace"))
        names |= n
        scopes |= s
    return names, scopes


def wrapped_functions(ldflags: Path) -> set[str]:
    return set(re.findall(r"-Wl,--wrap,(\w+)", ldflags.read_text()))


def outer_scope(demangled: str) -> str:
    """'mbed::Timer::start()' -> 'mbed'; 'vtable for USBCDC' -> 'USBCDC'; 'setup' -> 'setup'."""
    name = re.sub(r"^(vtable|typeinfo|typeinfo name|VTT|construction vtable) for ", "", demangled)
    return re.split(r"::|\(|<", name, maxsplit=1)[0].strip()


def classify(undefined: list[str], demangled: dict[str, str], names: set[str], scopes: set[str],
             wrapped: set[str]) -> tuple[list[str], list[str]]:
    supplied, missing = [], []
    for sym in undefined:
        pretty = demangled.get(sym, sym)
        if sym.startswith("__wrap_") and sym[len("__wrap_"):] in wrapped:
            ok = True
        elif sym == pretty:  # C linkage
            ok = sym in names
        else:  # C++: a member of a scope declared there, or a function declared at file scope there
            ok = outer_scope(pretty) in scopes or outer_scope(pretty) in names
        (supplied if ok else missing).append(pretty)
    return supplied, missing


def demangle(symbols: list[str], cxxfilt: str) -> dict[str, str]:
    if not symbols:
        return {}
    out = subprocess.run([cxxfilt], input="\n".join(symbols), capture_output=True, text=True, check=True).stdout
    return dict(zip(symbols, out.splitlines()))
