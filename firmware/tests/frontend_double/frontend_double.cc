// TEST DOUBLE of frontend::Compute and ComputeStream for the listener's unit tests (never linked into a firmware image): a window
// with any sample louder than kLoud gives features that make the reference fake inference (inference_fake.cc)
// score label 1 highest (probability 255/256 with the reference configuration's output quantization); a quiet
// window gives features whose every fake score is at most 63/256. Feature sums decide the fake's scores:
// score i = (sum + 7 i) mod 256, read as int8. A window holding the sample kToneSample is a tone.
#include <cstring>

#include "frontend/frontend.h"

namespace {
constexpr int16_t kLoud = 1000;
// Sum 120: score 1 = 127 (the int8 maximum). Sum 128: score i = -128 + 7 i, at most -65.
constexpr int8_t kLoudFirstByte = 120;
constexpr int8_t kQuietFirstByte = -128;
constexpr size_t kWindowSamples = 16000;  // the listener's window: 1 s at 16 kHz
constexpr int16_t kToneSample = 7777;
bool g_tone = false;
}  // namespace

namespace frontend {

bool Compute(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len) {
  if (num_samples == 0 || features_len == 0) return false;
  bool loud = false;
  g_tone = false;
  for (size_t i = 0; i < num_samples; ++i) {
    loud = loud || audio[i] > kLoud || audio[i] < -kLoud;
    g_tone = g_tone || audio[i] == kToneSample;
  }
  std::memset(features, 0, features_len);
  features[0] = loud ? kLoudFirstByte : kQuietFirstByte;
  return true;
}

bool ComputeStream(const int16_t* window, uint32_t, int8_t* features, size_t features_len) {
  return Compute(window, kWindowSamples, features, features_len);
}

void ResetStream() {}

int SpectraComputed() { return 0; }

bool LastWindowIsTone() { return g_tone; }

}  // namespace frontend
