#include "frontend/frontend.h"

#include <cstring>

// No fused multiply-add: GCC contracts a * b + c on the Cortex-M4F by default, the host's x86-64 cannot, and the
// two must compute the same bits.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace frontend {

namespace {

constexpr int kHalf = kFftSize / 2;
// librosa's STFT with center=True has one frame per hop plus one; the model keeps the first kNumFrames, but the
// dB floor (kTopDb below the maximum) is taken over all of them, as librosa.feature.mfcc does.
constexpr int kStftFrames = kAudioSamples / kFrameHop + 1;
constexpr int kWindowOffset = (kFftSize - kFrameLength) / 2;  // librosa centres the window in the FFT frame
constexpr float kInt16Scale = 1.0f / 32768.0f;                // what soundfile reads a 16-bit WAV as
constexpr float kLog10Of2 = 0.301029995663981f;
constexpr float kLog10OfE = 0.434294481903252f;
constexpr float kSqrt2 = 1.41421356237310f;

static_assert(kFrameLength <= kFftSize && (kFftSize & (kFftSize - 1)) == 0, "FFT size: a power of two >= window");
static_assert(kNumSpectrumBins <= kHalf + 1, "mel filters read past the spectrum");
static_assert(kStftFrames >= kNumFrames, "fewer STFT frames than model frames");
static_assert(kNumCoeffs <= kNumMels, "more coefficients than mel bands");

// Working memory (static: no heap, and the stack stays small on the board).
float g_frame[kFftSize];
float g_power[kNumSpectrumBins];
float g_mel_db[kStftFrames][kNumMels];
float g_mfcc[kNumFrames * kNumCoeffs];
float g_trim_rms[kAudioSamples / kFrameHop + 1];

// The trimmed audio [start, end) of the input, centred in a clip of kAudioSamples (zeros around it).
struct Clip {
  const int16_t* audio;
  long start;
  long end;
  long shift;  // input index of clip sample 0

  float At(long i) const {
    const long j = i + shift;
    return (j >= start && j < end) ? static_cast<float>(audio[j]) * kInt16Scale : 0.0f;
  }
};

float Max(float a, float b) { return a > b ? a : b; }

float PowerDb(float power, float floor) { return 10.0f * Log10(Max(floor, power)); }

// Round half to even, like np.round, for |v| < 2^23 (no libm).
float RoundHalfEven(float v) {
  const float whole = static_cast<float>(static_cast<int32_t>(v));  // towards zero
  const float frac = v - whole;                                     // exact
  const float sign = v < 0.0f ? -1.0f : 1.0f;
  const float away = frac * sign;
  if (away > 0.5f) return whole + sign;
  if (away < 0.5f) return whole;
  return (static_cast<int32_t>(whole) % 2 == 0) ? whole : whole + sign;
}

// In-place complex FFT of kHalf points, interleaved (re, im), forward (exp(-i ...)).
void ComplexFft(float* z) {
  for (int i = 1, j = 0; i < kHalf; ++i) {  // bit-reversal permutation
    int bit = kHalf >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j |= bit;
    if (i < j) {
      float t = z[2 * i];
      z[2 * i] = z[2 * j];
      z[2 * j] = t;
      t = z[2 * i + 1];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j + 1] = t;
    }
  }
  for (int len = 2; len <= kHalf; len <<= 1) {
    const int half = len / 2;
    const int step = 2 * (kHalf / len);  // W_kHalf^j = W_kFftSize^(2j): the tables are for kFftSize
    for (int i = 0; i < kHalf; i += len) {
      for (int j = 0; j < half; ++j) {
        const float c = kFftCos[j * step];
        const float s = kFftSin[j * step];
        float* a = z + 2 * (i + j);
        float* b = z + 2 * (i + j + half);
        const float vr = b[0] * c + b[1] * s;
        const float vi = b[1] * c - b[0] * s;
        b[0] = a[0] - vr;
        b[1] = a[1] - vi;
        a[0] = a[0] + vr;
        a[1] = a[1] + vi;
      }
    }
  }
}

// Mel-band dB of every STFT frame of `clip` into g_mel_db; returns the largest value.
float MelDb(const Clip& clip) {
  float max_db = -1e30f;
  for (int t = 0; t < kStftFrames; ++t) {
    const long first = static_cast<long>(t) * kFrameHop - kFftSize / 2 + kWindowOffset;
    for (int k = 0; k < kFftSize; ++k) g_frame[k] = 0.0f;
    for (int k = 0; k < kFrameLength; ++k) g_frame[kWindowOffset + k] = kWindow[k] * clip.At(first + k);
    PowerSpectrum(g_frame, g_power, kNumSpectrumBins);
    const float* weight = kMelWeights;
    for (int m = 0; m < kNumMels; ++m) {
      float sum = 0.0f;
      for (int j = 0; j < kMelCount[m]; ++j) sum += weight[j] * g_power[kMelFirst[m] + j];
      weight += kMelCount[m];
      const float db = PowerDb(sum, kPowerFloor);
      g_mel_db[t][m] = db;
      max_db = Max(max_db, db);
    }
  }
  return max_db;
}

bool ValidAudio(const int16_t* audio, size_t num_samples) {
  return audio != nullptr && num_samples >= 1 && num_samples <= static_cast<size_t>(kAudioSamples);
}

}  // namespace

float Log10(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  int exponent = static_cast<int>((bits >> 23) & 0xFFu) - 127;
  bits = (bits & 0x007FFFFFu) | 0x3F800000u;  // mantissa in [1, 2)
  float m;
  std::memcpy(&m, &bits, sizeof(m));
  if (m > kSqrt2) {
    m *= 0.5f;
    ++exponent;
  }
  // ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: five terms leave an error below 2e-9.
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  const float ln_m =
      2.0f * s * (1.0f + s2 * (1.0f / 3.0f + s2 * (1.0f / 5.0f + s2 * (1.0f / 7.0f + s2 * (1.0f / 9.0f)))));
  return static_cast<float>(exponent) * kLog10Of2 + ln_m * kLog10OfE;
}

void PowerSpectrum(float* frame, float* power, int num_bins) {
  // A real sequence of kFftSize points as kHalf complex ones (even samples real, odd imaginary), then split.
  ComplexFft(frame);
  for (int k = 0; k < num_bins; ++k) {
    const int k1 = k % kHalf;
    const int k2 = (kHalf - k) % kHalf;
    const float ar = frame[2 * k1], ai = frame[2 * k1 + 1];
    const float br = frame[2 * k2], bi = -frame[2 * k2 + 1];  // conj(Z[kHalf - k])
    const float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);  // FFT of the even samples
    const float orr = 0.5f * (ai - bi), oi = -0.5f * (ar - br);  // FFT of the odd samples
    float c = -1.0f, s = 0.0f;  // W^kHalf
    if (k < kHalf) {
      c = kFftCos[k];
      s = kFftSin[k];
    }
    const float xr = er + (orr * c + oi * s);
    const float xi = ei + (oi * c - orr * s);
    power[k] = xr * xr + xi * xi;
  }
}

void TrimBounds(const int16_t* audio, size_t num_samples, size_t* start, size_t* end) {
  *start = 0;
  *end = num_samples;
  if (!(kTrimDb > 0.0f) || !ValidAudio(audio, num_samples)) return;
  // librosa.effects.trim: frame RMS (centred frames, zero padding), dB against the loudest frame.
  const long n = static_cast<long>(num_samples);
  const int frames = static_cast<int>(n / kFrameHop) + 1;
  float ref = 0.0f;
  for (int t = 0; t < frames; ++t) {
    const long lo = static_cast<long>(t) * kFrameHop - kFrameLength / 2;
    float sum = 0.0f;
    for (long j = lo < 0 ? 0 : lo; j < lo + kFrameLength && j < n; ++j) {
      const float x = static_cast<float>(audio[j]) * kInt16Scale;
      sum += x * x;
    }
    const float rms = __builtin_sqrtf(sum / static_cast<float>(kFrameLength));
    g_trim_rms[t] = rms;
    ref = Max(ref, rms);
  }
  const float ref_db = PowerDb(ref * ref, kTrimPowerFloor);
  int first = -1, last = -1;
  for (int t = 0; t < frames; ++t) {
    const float rms = g_trim_rms[t];
    if (PowerDb(rms * rms, kTrimPowerFloor) - ref_db > -kTrimDb) {
      if (first < 0) first = t;
      last = t;
    }
  }
  if (first < 0) {
    *end = 0;
    return;
  }
  *start = static_cast<size_t>(first) * kFrameHop;
  const size_t stop = static_cast<size_t>(last + 1) * kFrameHop;
  *end = stop < num_samples ? stop : num_samples;
}

bool ComputeMfcc(const int16_t* audio, size_t num_samples, float* mfcc, size_t mfcc_len) {
  if (!ValidAudio(audio, num_samples) || mfcc == nullptr || mfcc_len != kFeatureBytes) return false;
  size_t start = 0, end = 0;
  TrimBounds(audio, num_samples, &start, &end);
  // data.features.fit_length: the trimmed audio padded symmetrically to one clip (it never exceeds one here).
  const long length = static_cast<long>(end - start);
  const long left = (kAudioSamples - length) / 2;
  const Clip clip{audio, static_cast<long>(start), static_cast<long>(end), static_cast<long>(start) - left};
  const float floor_db = MelDb(clip) - kTopDb;
  for (int t = 0; t < kNumFrames; ++t) {
    for (int m = 0; m < kNumMels; ++m) g_mel_db[t][m] = Max(g_mel_db[t][m], floor_db);
    for (int c = 0; c < kNumCoeffs; ++c) {
      float sum = 0.0f;
      for (int m = 0; m < kNumMels; ++m) sum += kDct[c][m] * g_mel_db[t][m];
      mfcc[t * kNumCoeffs + c] = sum;
    }
  }
  return true;
}

bool Compute(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len) {
  if (features == nullptr || features_len != kFeatureBytes) return false;
  if (!ComputeMfcc(audio, num_samples, g_mfcc, kFeatureBytes)) return false;
  // quantize.model_io.device_input: data.features.apply_norm, then the input tensor's quantization.
  for (int c = 0; c < kNumCoeffs; ++c) {
    float mean = 0.0f;
    if (kPerUtteranceMean) {
      for (int t = 0; t < kNumFrames; ++t) mean += g_mfcc[t * kNumCoeffs + c];
      mean /= static_cast<float>(kNumFrames);
    }
    for (int t = 0; t < kNumFrames; ++t) {
      float z = ((g_mfcc[t * kNumCoeffs + c] - mean) - kNormMean[c]) / kNormStd[c];
      if (kNormClip > 0.0f) z = z < -kNormClip ? -kNormClip : (z > kNormClip ? kNormClip : z);
      float q = RoundHalfEven(z / kInputScale) + static_cast<float>(kInputZeroPoint);
      q = q < -128.0f ? -128.0f : (q > 127.0f ? 127.0f : q);
      features[t * kNumCoeffs + c] = static_cast<int8_t>(q);
    }
  }
  return true;
}

}  // namespace frontend
