"""Writes a stand-in for the files `make quantize` generates (same names and declarations as the generated-files
contract), so the application layer builds without the training pipeline: for the cross-compile size check and
the host simulator. The self-test clips' expected scores are those of the reference fake inference, so the
simulator reports "8/8 identical". Usage: python3 make_fixture.py <out-dir>  (writes <out-dir>/generated/).
"""

import pathlib
import random
import sys

FRAMES, COEFFS, LABELS = 100, 13, ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
INPUT_BYTES = FRAMES * COEFFS
CLIPS = 8
ARENA_USED = 9312
ARENA = 10256
SEED = 3  # fixed, so the fixture is identical on every run


def fake_scores(clip):
    total = sum(b & 0xFF for b in clip)
    return [((total + 7 * i) & 0xFF) - 256 * (((total + 7 * i) & 0xFF) > 127) for i in range(len(LABELS))]


def c_array(values):
    return "{" + ", ".join(str(v) for v in values) + "}"


def main(out: pathlib.Path):
    gen = out / "generated"
    gen.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    clips = [[rng.randrange(-128, 128) for _ in range(INPUT_BYTES)] for _ in range(CLIPS)]
    files = {
        "model_data.h": "#pragma once\n\nextern const unsigned char g_model_data[];\nextern const unsigned int g_model_data_len;\n",
        "model_data.cc": '#include "model_data.h"\n\n// Fixture: not a model (the fake inference never reads it).\n'
        "alignas(16) const unsigned char g_model_data[] = {0x1c, 0x00, 0x00, 0x00, 0x54, 0x46, 0x4c, 0x33};\n"
        "const unsigned int g_model_data_len = sizeof(g_model_data);\n",
        "model_settings.h": "#pragma once\n\n#include <cstdint>\n\n"
        'constexpr char kModelHash[] = "0123abcd";\n'
        f"constexpr int kNumFrames = {FRAMES};\nconstexpr int kNumCoeffs = {COEFFS};\nconstexpr int kInputBytes = {INPUT_BYTES};\n"
        "constexpr float kInputScale = 0.0625f;\nconstexpr uint32_t kInputScaleBits = 0x3D800000u;\nconstexpr int kInputZeroPoint = -128;\n"
        "constexpr float kOutputScale = 0.00390625f;\nconstexpr uint32_t kOutputScaleBits = 0x3B800000u;\n"
        "constexpr int kOutputZeroPoint = -128;\n"
        f"constexpr int kNumLabels = {len(LABELS)};\n"
        "constexpr const char* kLabels[kNumLabels] = {" + ", ".join(f'"{l}"' for l in LABELS) + "};\n"
        f"constexpr int kArenaUsedBytes = {ARENA_USED};\nconstexpr int kTensorArenaSize = {ARENA};\n",
        "selftest_data.h": '#pragma once\n\n#include <cstdint>\n\n#include "model_settings.h"\n\n'
        f"constexpr int kNumSelftestClips = {CLIPS};\n"
        "extern const int8_t g_selftest_inputs[kNumSelftestClips][kInputBytes];\n"
        "extern const int8_t g_selftest_expected[kNumSelftestClips][kNumLabels];\n"
        "extern const int g_selftest_labels[kNumSelftestClips];\n",
        "selftest_data.cc": '#include "selftest_data.h"\n\n'
        "const int8_t g_selftest_inputs[kNumSelftestClips][kInputBytes] = {"
        + ",\n".join(c_array(c) for c in clips) + "};\n"
        "const int8_t g_selftest_expected[kNumSelftestClips][kNumLabels] = {"
        + ",\n".join(c_array(fake_scores(c)) for c in clips) + "};\n"
        "const int g_selftest_labels[kNumSelftestClips] = " + c_array(i % len(LABELS) for i in range(CLIPS)) + ";\n",
    }
    for name, text in files.items():
        (gen / name).write_text(text)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
