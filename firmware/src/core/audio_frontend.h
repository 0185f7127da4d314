// Audio front end: the one interface between the core and the feature computation of HEAR. Exactly one
// implementation is linked: frontend/audio_frontend.cc on the device (the MFCC front end, timed), or
// inference/audio_frontend_fake.cc for host tests (the protocol's reference fake front end, a test double).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/inference.h"

namespace audio_frontend {

// `num_samples` 16-bit samples -> `features_len` int8 model input values; `timing` receives the front end's own
// latency, `tone` whether the audio is a tone or glide, not speech (HEAR then answers not-a-word). False when the
// input cannot be processed (nothing else is reported).
bool Run(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len,
         inference::Timing* timing, bool* tone);

}  // namespace audio_frontend
