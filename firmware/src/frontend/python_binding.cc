// C entry points of the front end for the host's Python binding (host/frontend.py loads the shared library that
// `make frontend-lib` builds from frontend.cc, this file and a model's generated model_settings.h). Host only.
#include "frontend/frontend.h"

extern "C" {

// Sample rate, samples per clip, frames, coefficients, in this order (checked against the model's metadata).
void fe_shape(int32_t* out) {
  out[0] = frontend::kSampleRate;
  out[1] = frontend::kAudioSamples;
  out[2] = frontend::kNumFrames;
  out[3] = frontend::kNumMfcc;
}

int fe_compute(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len) {
  return frontend::Compute(audio, num_samples, features, features_len) ? 1 : 0;
}

int fe_mfcc(const int16_t* audio, size_t num_samples, float* mfcc, size_t mfcc_len) {
  return frontend::ComputeMfcc(audio, num_samples, mfcc, mfcc_len) ? 1 : 0;
}

int fe_stream(const int16_t* window, uint32_t end, int8_t* features, size_t features_len) {
  return frontend::ComputeStream(window, end, features, features_len) ? 1 : 0;
}

void fe_stream_reset() { frontend::ResetStream(); }

int fe_spectra() { return frontend::SpectraComputed(); }

int fe_tone() { return frontend::LastWindowIsTone() ? 1 : 0; }

void fe_trim(const int16_t* audio, size_t num_samples, size_t* start, size_t* end) {
  frontend::TrimBounds(audio, num_samples, start, end);
}

}  // extern "C"
