// Audio front end: 16 kHz 16-bit audio -> the model's int8 input, the same features as the training pipeline
// (data/features.py: librosa's trim, centring, MFCC; the model's normalization and input quantization). Every
// parameter and table comes from the generated model_settings.h (quantize/codegen.py, from model_meta.json), so
// the front end always matches the model it is built with. Portable C++ (float, no heap, its own log10): the same
// code runs on the host (tests, Python binding), the emulator and the board.
#pragma once

#include <cstddef>
#include <cstdint>

#include "generated/model_settings.h"

// A build folder quantized by an older generator lacks constants this front end reads (quantize/codegen.py
// SETTINGS_VERSION): one clear line instead of a compiler's list of undeclared names.
#if !defined(MODEL_SETTINGS_VERSION) || MODEL_SETTINGS_VERSION < 2
#error "generated/model_settings.h is older than this firmware: run `make quantize` again"
#endif

namespace frontend {

constexpr int kSampleRate = kAudioSampleRate;
// Most samples one call takes: one clip (1 s). Shorter input is trimmed and centred like a short recording.
constexpr int kAudioSamples = ::kAudioSamples;
constexpr int kNumFrames = ::kNumFrames;
constexpr int kNumMfcc = kNumCoeffs;
constexpr size_t kFeatureBytes = static_cast<size_t>(kNumFrames) * kNumMfcc;

// `num_samples` (1..kAudioSamples) samples of `audio` -> kNumFrames x kNumMfcc int8 model input, row-major, into
// `features` (`features_len` must be kFeatureBytes). False (nothing written) for any other sizes.
bool Compute(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len);

// Streaming (the listener): the features of one window of a continuous recording, bit for bit Compute()'s on the
// same kAudioSamples samples, but every frame that lies wholly in the trimmed audio is computed once per recording
// and kept: trimming cuts and centres on the frame hop grid (data/features.py does the same), so such a frame is
// the same stream frame in every window that holds it. Per window only the frames of the newest audio, those next
// to the cuts and the window's edges are computed. `window`: kAudioSamples samples that end at sample index `end`
// of the recording (any counter that advances with the audio and may wrap); windows kFrameHop apart or a multiple
// of it share frames, any other step starts afresh.
bool ComputeStream(const int16_t* window, uint32_t end, int8_t* features, size_t features_len);

// Forgets every kept frame: the next ComputeStream() starts a new recording.
void ResetStream();

// Frame spectra (FFT, mel, dB) the last Compute() or ComputeStream() computed: what streaming saves.
int SpectraComputed();

// Whether the window of the last Compute(), ComputeMfcc() or ComputeStream() is a tone or glide, not speech: in more
// than half of its loud frames nearly all the power lies in one narrow peak (model_settings.h kTone*; the host's
// data.features.is_tone). A word's answer is then "not a word" (HEAR's answer=, the listener hears nothing).
bool LastWindowIsTone();

// The same up to the MFCCs (before normalization): kNumFrames x kNumMfcc floats, for comparisons with librosa.
bool ComputeMfcc(const int16_t* audio, size_t num_samples, float* mfcc, size_t mfcc_len);

// Where the trimmed audio lies in the input, samples [*start, *end), as librosa.effects.trim finds it.
void TrimBounds(const int16_t* audio, size_t num_samples, size_t* start, size_t* end);

// log10(x) for a normal x > 0: our own, so the host and the device compute the same bits.
float Log10(float x);

// Power spectrum |X[k]|^2, k < num_bins (<= kFftSize / 2 + 1), of `frame` (kFftSize real samples, overwritten).
void PowerSpectrum(float* frame, float* power, int num_bins);

}  // namespace frontend
