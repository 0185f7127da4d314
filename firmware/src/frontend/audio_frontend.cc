// The device's implementation of core/audio_frontend.h: the MFCC front end, timed like the model invocation.
#include "core/audio_frontend.h"

#include "core/platform.h"
#include "frontend/frontend.h"

namespace audio_frontend {

bool Run(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len,
         inference::Timing* timing, bool* tone) {
  const uint32_t start_us = platform::MicrosNow();
  const uint32_t start_cycles = platform::CyclesNow();
  const bool ok = frontend::Compute(audio, num_samples, features, features_len);
  timing->cycles = platform::CyclesNow() - start_cycles;
  timing->micros = platform::MicrosNow() - start_us;
  *tone = ok && frontend::LastWindowIsTone();
  return ok;
}

}  // namespace audio_frontend
