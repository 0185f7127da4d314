// The protocol's reference fake front end (PROTOCOL.md, "Golden vectors"): a deterministic test double so the
// core's HEAR and FEATURES replies can be checked byte for byte. Never linked into the board firmware.
#include "core/audio_frontend.h"

namespace audio_frontend {

namespace {
// Fixed latency of the reference fake front end, as PROTOCOL.md defines it.
constexpr uint32_t kFakeMicros = 2000;
constexpr uint32_t kFakeCycles = 128000;
// Audio whose first sample is this fails, so the golden vectors can cover a failed front end.
constexpr int16_t kFailSample = -32768;
// Feature i adds this step, so that features differ along the clip.
constexpr uint32_t kFeatureStep = 3;
}  // namespace

bool Run(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len,
         inference::Timing* timing, bool* tone) {
  *tone = false;  // the reference fake never hears a tone
  if (num_samples == 0 || audio[0] == kFailSample) return false;
  // The sum of the audio's bytes read as uint8 (little-endian samples), plus the number of samples.
  uint32_t sum = static_cast<uint32_t>(num_samples);
  for (size_t i = 0; i < num_samples; ++i) {
    const uint16_t sample = static_cast<uint16_t>(audio[i]);
    sum += (sample & 0xFFu) + (sample >> 8);
  }
  for (size_t i = 0; i < features_len; ++i) {
    features[i] = static_cast<int8_t>(static_cast<uint8_t>((sum + kFeatureStep * i) & 0xFF));
  }
  timing->micros = kFakeMicros;
  timing->cycles = kFakeCycles;
  return true;
}

}  // namespace audio_frontend
