#include "tests/reference_config.h"

namespace reference {

namespace {

constexpr const char* kLabelNames[kLabels] = {"zero", "one", "two",   "three", "four",
                                              "five", "six", "seven", "eight", "nine"};
constexpr int kNumClips = 2;

// PROTOCOL.md, "Golden vectors": clip 0 is all 0x00 with the fake's own scores (passes), clip 1 all 0x01
// with all-zero scores (fails).
struct Clips {
  int8_t inputs[kNumClips][kInputBytes];
  int8_t expected[kNumClips][kLabels];
  int labels[kNumClips];
};

Clips MakeClips() {
  Clips clips{};
  for (uint32_t i = 0; i < kInputBytes; ++i) clips.inputs[1][i] = 1;
  for (uint32_t i = 0; i < kLabels; ++i) clips.expected[0][i] = static_cast<int8_t>(7 * i);
  clips.labels[0] = 0;
  clips.labels[1] = 1;
  return clips;
}

const Clips kClips = MakeClips();

}  // namespace

DeviceConfig Config() {
  DeviceConfig config;
  config.firmware_version = "0.1.0";
  config.model_hash = "0123abcd";
  config.num_frames = kFrames;
  config.num_coeffs = kCoeffs;
  config.input_scale_bits = 0x3D800000u;
  config.input_zero_point = -128;
  config.num_labels = kLabels;
  config.output_scale_bits = 0x3B800000u;
  config.output_zero_point = -128;
  config.arena_bytes = 9999;
  config.labels = kLabelNames;
  config.engine = "fake";
  config.min_word_score = 0;
  config.selftest.count = kNumClips;
  config.selftest.inputs = &kClips.inputs[0][0];
  config.selftest.expected = &kClips.expected[0][0];
  config.selftest.labels = kClips.labels;
  config.audio_samples = kAudioSamples;
  config.audio_rate = kAudioRate;
  return config;
}

}  // namespace reference
