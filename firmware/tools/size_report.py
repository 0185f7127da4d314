"""Reports the cross-compiled firmware objects' sizes (arm-none-eabi-size) as JSON and fails when the portable
core links anything a small device must not use: heap allocation, exceptions, RTTI or printf.

Usage: size_report.py --size arm-none-eabi-size --nm arm-none-eabi-nm --out size.json --core <o...> --app <o...>
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys

# Undefined symbols that would mean dynamic allocation, exceptions/RTTI or printf-style formatting.
FORBIDDEN = re.compile(
    r"^(malloc|calloc|realloc|free|_Znw\w*|_Zna\w*|_Zdl\w*|_Zda\w*|__cxa_throw|__cxa_allocate_exception|"
    r"__gxx_personality_v0|_ZTI\w*|\w*printf\w*|__aeabi_d\w+)$"
)


def sizes(size_tool, objects):
    out = subprocess.run([size_tool, "-B", *objects], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines()[1:]:
        text, data, bss, _dec, _hex, name = line.split(None, 5)
        rows[pathlib.Path(name).name] = {"text": int(text), "data": int(data), "bss": int(bss)}
    return rows


def total(rows):
    keys = ("text", "data", "bss")
    t = {k: sum(r[k] for r in rows.values()) for k in keys}
    t["flash"] = t["text"] + t["data"]
    t["ram"] = t["data"] + t["bss"]
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", required=True)
    ap.add_argument("--nm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--core", nargs="+", required=True)
    ap.add_argument("--app", nargs="+", required=True)
    args = ap.parse_args()

    core, app = sizes(args.size, args.core), sizes(args.size, args.app)
    undefined = subprocess.run([args.nm, "-u", *args.core], check=True, capture_output=True, text=True).stdout
    bad = sorted({s.split()[-1] for s in undefined.splitlines() if s.strip() and FORBIDDEN.match(s.split()[-1])})
    report = {
        "target": "cortex-m4 thumb fpv4-sp-d16 hard-float, -Os",
        "core": {"objects": core, "total": total(core)},
        "app_with_fixture_model": {"objects": app, "total": total(app)},
        "forbidden_symbols_in_core": bad,
    }
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"core: {report['core']['total']}  app+fixture: {report['app_with_fixture_model']['total']}  -> {args.out}")
    if bad:
        print("error: the core references " + ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
