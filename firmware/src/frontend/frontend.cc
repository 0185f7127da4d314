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

// A frame centred at sample c reads [c + kSpectrumFirst, + kFrameLength) for its spectrum (STFT, center=True) and
// [c + kTrimFirst, + kFrameLength) for the trimming RMS (librosa.feature.rms, center=True); kSpan* covers both.
constexpr long kSpectrumFirst = kWindowOffset - kFftSize / 2;
constexpr long kTrimFirst = -(kFrameLength / 2);
constexpr long kSpanFirst = kSpectrumFirst < kTrimFirst ? kSpectrumFirst : kTrimFirst;
constexpr long kSpanEnd = (kSpectrumFirst > kTrimFirst ? kSpectrumFirst : kTrimFirst) + kFrameLength;
// Frames that straddle one cut (trimmed audio | zeros): centres on the hop grid in an open interval of the span's
// length around the cut. Two cuts per window.
constexpr int kCutFrames = 2 * static_cast<int>((kSpanEnd - kSpanFirst + kFrameHop - 1) / kFrameHop);
// Frames kept: at least the frames of one window (consecutive frames get consecutive slots, modulo kKeptFrames).
constexpr int kKeptFrames = kStftFrames;

static_assert(kFrameLength <= kFftSize && (kFftSize & (kFftSize - 1)) == 0, "FFT size: a power of two >= window");
static_assert(kNumSpectrumBins <= kHalf + 1, "mel filters read past the spectrum");
static_assert(kStftFrames >= kNumFrames, "fewer STFT frames than model frames");
static_assert(kNumCoeffs <= kNumMels, "more coefficients than mel bands");
static_assert(0 <= kToneFirstBin && kToneFirstBin + kTonePeakBins <= kToneEndBin && kToneEndBin <= kNumSpectrumBins,
              "the tone check reads past the spectrum");
// A peak of kTonePeakBins bins holding more than kTonePeakShare of the power holds the strongest bin: a bin in it has
// at least kTonePeakShare / kTonePeakBins of the power, one outside at most 1 - kTonePeakShare.
static_assert(kTonePeakShare * (kTonePeakBins + 1) > kTonePeakBins, "the tone check's peak share is too low");

template <typename T, int N>
struct Table {
  T at[N];
};

// Where FFT point p goes in bit-reversed order (the FFT's input order).
constexpr Table<uint16_t, kHalf> BitReversal() {
  Table<uint16_t, kHalf> table{};
  for (int p = 0; p < kHalf; ++p) {
    int r = 0;
    for (int bit = 1, mirror = kHalf >> 1; bit < kHalf; bit <<= 1, mirror >>= 1) r |= (p & bit) ? mirror : 0;
    table.at[p] = static_cast<uint16_t>(r);
  }
  return table;
}
constexpr Table<uint16_t, kHalf> kBitReversed = BitReversal();

// kWindow scaled to 16-bit samples: w * (x / 32768) == (w / 32768) * x exactly (a power of two, no subnormals).
constexpr Table<float, kFrameLength> ScaledWindow() {
  Table<float, kFrameLength> table{};
  for (int k = 0; k < kFrameLength; ++k) table.at[k] = kWindow[k] * kInt16Scale;
  return table;
}
constexpr Table<float, kFrameLength> kScaledWindow = ScaledWindow();

// kDct by columns: band m's weights of every coefficient, contiguous (the DCT loops keep the coefficients' sums in
// registers and add one band at a time, in the same order as a row-by-row sum).
constexpr Table<float, kNumMels * kNumCoeffs> DctColumns() {
  Table<float, kNumMels * kNumCoeffs> table{};
  for (int m = 0; m < kNumMels; ++m) {
    for (int c = 0; c < kNumCoeffs; ++c) table.at[m * kNumCoeffs + c] = kDct[c][m];
  }
  return table;
}
constexpr Table<float, kNumMels * kNumCoeffs> kDctColumns = DctColumns();

// One frame's mel-band dB and what a window needs of it.
struct Spectrum {
  float mel_db[kNumMels];
  float dct[kNumCoeffs];  // the DCT of mel_db as it is: a window's floor leaves most frames untouched
  float min_db;
  float max_db;
  float band_power;  // the tone check's: power in bins kToneFirstBin..kToneEndBin-1,
  float peak_power;  // and the most of it in kTonePeakBins adjacent bins
};

// A frame wholly inside the audio: the same in every window of the stream that holds it.
struct KeptFrame {
  Spectrum spectrum;
  float trim_power;
  float trim_db;
  uint32_t id;  // stream frame number (the frame centred at window sample 0 is g_origin_id)
  bool valid;
};

// Working memory (static: no heap, and the stack stays small on the board).
float g_frame[kFftSize];
float g_power[kNumSpectrumBins];
float g_mfcc[kNumFrames * kNumCoeffs];
float g_trim_power[kStftFrames];
float g_trim_db[kStftFrames];
const Spectrum* g_frames[kStftFrames];  // the window's frames: kept, cut or silent
Spectrum g_cut[kCutFrames];
Spectrum g_silent;  // a frame of zeros (computed once)
bool g_silent_ready = false;
KeptFrame g_kept[kKeptFrames];
uint32_t g_origin_id = 0;
int g_origin_slot = 0;
uint32_t g_last_end = 0;
bool g_streaming = false;
int g_spectra = 0;
bool g_tone = false;

float Max(float a, float b) { return a > b ? a : b; }
float Min(float a, float b) { return a < b ? a : b; }

float PowerDb(float power, float floor) { return 10.0f * Log10(Max(floor, power)); }

// Round half to even, like np.round, for |v| <= 2^22: v + 1.5 * 2^23 has no fraction bits left, so the FPU's
// round-to-nearest-even rounds it (fp-contract off and no -ffast-math keep the two operations).
float RoundHalfEven(float v) {
  constexpr float kShift = 12582912.0f;
  return (v + kShift) - kShift;
}

// e^(-2 pi i m / kFftSize) for 0 <= m < 3 kFftSize / 4 as (cos, sin): the tables cover half a turn, the rest is
// their negation (exact).
__attribute__((always_inline)) inline void Twiddle(int m, float* c, float* s) {
  if (m < kHalf) {
    *c = kFftCos[m];
    *s = kFftSin[m];
  } else {
    *c = -kFftCos[m - kHalf];
    *s = -kFftSin[m - kHalf];
  }
}

// The radix-4 butterfly on the points p, p + q, p + 2q, p + 3q (interleaved, q in points) given B1..B3 (B0 is p's):
// X[m q] = B0 + (-i)^m B1 + (-1)^m B2 + i^m B3.
__attribute__((always_inline)) inline void Butterfly(float* p0, int q, float b1r, float b1i, float b2r, float b2i,
                                                     float b3r, float b3i) {
  float* p1 = p0 + 2 * q;
  float* p2 = p1 + 2 * q;
  float* p3 = p2 + 2 * q;
  const float t0r = p0[0] + b2r, t0i = p0[1] + b2i;
  const float t1r = p0[0] - b2r, t1i = p0[1] - b2i;
  const float t2r = b1r + b3r, t2i = b1i + b3i;
  const float t3r = b1r - b3r, t3i = b1i - b3i;
  p0[0] = t0r + t2r;
  p0[1] = t0i + t2i;
  p2[0] = t0r - t2r;
  p2[1] = t0i - t2i;
  p1[0] = t1r + t3i;  // t1 - i t3
  p1[1] = t1i - t3r;
  p3[0] = t1r - t3i;  // t1 + i t3
  p3[1] = t1i + t3r;
}

// In-place complex FFT of kHalf points, interleaved (re, im), forward (exp(-i ...)), of input in bit-reversed order
// (kBitReversed): radix-4 decimation-in-time stages (one radix-2 stage first when kHalf is an odd power of two). A
// radix-4 stage does the work of two radix-2 stages with fewer multiplications and memory accesses: the FFT is most
// of a frame's cost.
void ComplexFftOfReversed(float* z) {
  int len = 1;
  if (__builtin_ctz(kHalf) % 2 != 0) {  // radix 2, length 2: twiddles 1
    for (int i = 0; i < 2 * kHalf; i += 4) {
      const float ar = z[i], ai = z[i + 1];
      z[i] = ar + z[i + 2];
      z[i + 1] = ai + z[i + 3];
      z[i + 2] = ar - z[i + 2];
      z[i + 3] = ai - z[i + 3];
    }
    len = 2;
  }
  // Radix 4: a block of 4 q points holds, in bit-reversed order, the length-q DFTs of its samples 0, 2, 1, 3 mod 4
  // (A0, A2, A1, A3); B_r = W^(r k) A_r, W = e^(-2 pi i / 4q).
  for (int q = len; 4 * q <= kHalf; q *= 4) {
    for (int i = 0; i < kHalf; i += 4 * q) {  // k = 0: every twiddle is 1
      const float* a = z + 2 * i;
      Butterfly(z + 2 * i, q, a[4 * q], a[4 * q + 1], a[2 * q], a[2 * q + 1], a[6 * q], a[6 * q + 1]);
    }
    const int stride = kFftSize / (4 * q);  // W^j = W_kFftSize^(j stride)
    for (int k = 1; k < q; ++k) {
      float c1, s1, c2, s2, c3, s3;
      Twiddle(k * stride, &c1, &s1);
      Twiddle(2 * k * stride, &c2, &s2);
      Twiddle(3 * k * stride, &c3, &s3);
      for (int i = k; i < kHalf; i += 4 * q) {  // (x + i y) (c - i s) = (x c + y s) + i (y c - x s)
        const float* a = z + 2 * i;
        const float a1r = a[4 * q], a1i = a[4 * q + 1], a2r = a[2 * q], a2i = a[2 * q + 1];
        const float a3r = a[6 * q], a3i = a[6 * q + 1];
        Butterfly(z + 2 * i, q, a1r * c1 + a1i * s1, a1i * c1 - a1r * s1, a2r * c2 + a2i * s2, a2i * c2 - a2r * s2,
                  a3r * c3 + a3i * s3, a3i * c3 - a3r * s3);
      }
    }
  }
}

// The power spectrum |X[k]|^2, k < num_bins, of kFftSize real points whose pairs (even sample real, odd imaginary)
// `z` holds in bit-reversed order; z is overwritten.
void PowerSpectrumOfReversed(float* z, float* power, int num_bins) {
  ComplexFftOfReversed(z);
  // Split the kHalf-point FFT Z into the real sequence's X: with E (of the even samples) and O (of the odd ones),
  // X[k] = E[k] + W^k O[k], E[k] = (Z[k] + conj Z[kHalf - k]) / 2, O[k] = -i (Z[k] - conj Z[kHalf - k]) / 2.
  for (int k = 0; k < num_bins; ++k) {
    const int k1 = k < kHalf ? k : 0;  // Z is kHalf-periodic: Z[kHalf] = Z[0]
    const int k2 = k == 0 || k == kHalf ? 0 : kHalf - k;
    const float ar = z[2 * k1], ai = z[2 * k1 + 1];
    const float br = z[2 * k2], bi = -z[2 * k2 + 1];  // conj(Z[kHalf - k])
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

// acc[c] += kDct[c][m] * value for every coefficient c.
__attribute__((always_inline)) inline void AddBand(int m, float value, float* acc) {
  const float* column = &kDctColumns.at[m * kNumCoeffs];
#pragma GCC unroll 32
  for (int c = 0; c < kNumCoeffs; ++c) acc[c] += column[c] * value;
}

void Finish(Spectrum* s) {
  s->min_db = s->max_db = s->mel_db[0];
  for (int m = 1; m < kNumMels; ++m) {
    s->min_db = Min(s->min_db, s->mel_db[m]);
    s->max_db = Max(s->max_db, s->mel_db[m]);
  }
  float acc[kNumCoeffs] = {};  // the orthonormal DCT-II, coefficients c < kNumCoeffs
  for (int m = 0; m < kNumMels; ++m) AddBand(m, s->mel_db[m], acc);
  for (int c = 0; c < kNumCoeffs; ++c) s->dct[c] = acc[c];
}

// The DCT of max(mel_db, floor) from the frame's DCT: only the bands below the floor add (floor - dB) times their
// DCT column, so a frame above the floor costs nothing.
void FlooredDct(const Spectrum& s, float floor, float* out) {
  float acc[kNumCoeffs];
  for (int c = 0; c < kNumCoeffs; ++c) acc[c] = s.dct[c];
  if (s.min_db < floor) {
    for (int m = 0; m < kNumMels; ++m) {
      if (s.mel_db[m] < floor) AddBand(m, floor - s.mel_db[m], acc);
    }
  }
  for (int c = 0; c < kNumCoeffs; ++c) out[c] = acc[c];
}

// The spectrum of the frame whose window starts at input sample `first`; samples outside [start, end) are zeros.
void ComputeSpectrum(const int16_t* audio, long first, long start, long end, Spectrum* out) {
  ++g_spectra;
  // Window positions [lo, hi) hold audio; the FFT frame is the window centred in kFftSize points, filled straight
  // into the FFT's bit-reversed input order.
  const long lo = start - first > 0 ? start - first : 0;
  const long hi = end - first < kFrameLength ? end - first : kFrameLength;
  const int16_t* x = audio + first;
  for (int p = 0; p < kHalf; ++p) {
    const long k = 2 * p - kWindowOffset;
    float* pair = g_frame + 2 * kBitReversed.at[p];
    if (k >= lo && k + 1 < hi) {  // both samples hold audio (most pairs)
      pair[0] = kScaledWindow.at[k] * static_cast<float>(x[k]);
      pair[1] = kScaledWindow.at[k + 1] * static_cast<float>(x[k + 1]);
    } else {
      pair[0] = (k >= lo && k < hi) ? kScaledWindow.at[k] * static_cast<float>(x[k]) : 0.0f;
      pair[1] = (k + 1 >= lo && k + 1 < hi) ? kScaledWindow.at[k + 1] * static_cast<float>(x[k + 1]) : 0.0f;
    }
  }
  PowerSpectrumOfReversed(g_frame, g_power, kNumSpectrumBins);
  const float* weight = kMelWeights;
  for (int m = 0; m < kNumMels; ++m) {
    float sum = 0.0f;
    for (int j = 0; j < kMelCount[m]; ++j) sum += weight[j] * g_power[kMelFirst[m] + j];
    weight += kMelCount[m];
    out->mel_db[m] = PowerDb(sum, kPowerFloor);
  }
  // The tone check needs only the windows of kTonePeakBins around the strongest bin: a window holding kTonePeakShare
  // of the power holds that bin (static_assert above), so the decision is that of the best window anywhere.
  out->band_power = 0.0f;
  int strongest = kToneFirstBin;
  for (int k = kToneFirstBin; k < kToneEndBin; ++k) {
    out->band_power += g_power[k];
    if (g_power[k] > g_power[strongest]) strongest = k;
  }
  out->peak_power = 0.0f;
  const int lowest = strongest - kTonePeakBins + 1 > kToneFirstBin ? strongest - kTonePeakBins + 1 : kToneFirstBin;
  for (int k = lowest; k <= strongest && k + kTonePeakBins <= kToneEndBin; ++k) {
    float sum = 0.0f;
    for (int j = 0; j < kTonePeakBins; ++j) sum += g_power[k + j];
    out->peak_power = Max(out->peak_power, sum);
  }
  Finish(out);
}

// A frame of zeros: power 0 in every band, what the FFT of zeros gives.
const Spectrum& Silent() {
  if (!g_silent_ready) {
    for (int m = 0; m < kNumMels; ++m) g_silent.mel_db[m] = PowerDb(0.0f, kPowerFloor);
    g_silent.band_power = g_silent.peak_power = 0.0f;
    Finish(&g_silent);
    g_silent_ready = true;
  }
  return g_silent;
}

// Mean square of librosa.effects.trim's frame RMS: centred frames, zeros beyond the input's `n` samples. The sum
// of squares is exact (integers), so it does not depend on the order of the samples.
float TrimPower(const int16_t* audio, long first, long n) {
  const int16_t* x = audio + (first < 0 ? 0 : first);
  const int16_t* stop = audio + (first + kFrameLength < n ? first + kFrameLength : n);
  int64_t sum = 0;
  for (; x < stop; ++x) sum += static_cast<int32_t>(*x) * *x;
  return static_cast<float>(sum) * (kInt16Scale * kInt16Scale / static_cast<float>(kFrameLength));
}

// Whether the frame centred at `centre` reads only samples of [start, end).
bool Inside(long centre, long start, long end) { return centre + kSpanFirst >= start && centre + kSpanEnd <= end; }

// The kept frame centred at input sample `centre` (on the hop grid, Inside() the `n` input samples): computed
// unless an earlier window of the stream computed it.
const KeptFrame& Kept(const int16_t* audio, long n, long centre) {
  const uint32_t index = static_cast<uint32_t>(centre / kFrameHop);
  const uint32_t id = g_origin_id + index;
  KeptFrame& frame = g_kept[(static_cast<uint32_t>(g_origin_slot) + index) % kKeptFrames];
  if (!frame.valid || frame.id != id) {
    ComputeSpectrum(audio, centre + kSpectrumFirst, 0, n, &frame.spectrum);
    frame.trim_power = TrimPower(audio, centre + kTrimFirst, n);
    frame.trim_db = PowerDb(frame.trim_power, kTrimPowerFloor);
    frame.id = id;
    frame.valid = true;
  }
  return frame;
}

void Forget() {
  for (KeptFrame& frame : g_kept) frame.valid = false;
}

bool ValidAudio(const int16_t* audio, size_t num_samples) {
  return audio != nullptr && num_samples >= 1 && num_samples <= static_cast<size_t>(kAudioSamples);
}

// librosa.effects.trim on `n` input samples: frame RMS (centred frames, zero padding) in dB against the loudest
// frame; bounds on the hop grid. With `kept`, frames inside the input come from Kept().
void Trim(const int16_t* audio, long n, bool kept, long* start, long* end) {
  *start = 0;
  *end = n;
  if (!(kTrimDb > 0.0f)) return;
  const int frames = static_cast<int>(n / kFrameHop) + 1;
  float ref = 0.0f;
  for (int t = 0; t < frames; ++t) {
    const long centre = static_cast<long>(t) * kFrameHop;
    if (kept && Inside(centre, 0, n)) {
      const KeptFrame& frame = Kept(audio, n, centre);
      g_trim_power[t] = frame.trim_power;
      g_trim_db[t] = frame.trim_db;
    } else {
      g_trim_power[t] = TrimPower(audio, centre + kTrimFirst, n);
      g_trim_db[t] = PowerDb(g_trim_power[t], kTrimPowerFloor);
    }
    ref = Max(ref, g_trim_power[t]);
  }
  const float ref_db = PowerDb(ref, kTrimPowerFloor);
  int first = -1, last = -1;
  for (int t = 0; t < frames; ++t) {
    if (g_trim_db[t] - ref_db > -kTrimDb) {
      if (first < 0) first = t;
      last = t;
    }
  }
  if (first < 0) {
    *end = 0;
    return;
  }
  *start = static_cast<long>(first) * kFrameHop;
  const long stop = static_cast<long>(last + 1) * kFrameHop;
  *end = stop < n ? stop : n;
}

// data.features.is_tone on the window's frames: most of its loud frames have nearly all their power in one peak.
bool IsTone(const Spectrum* const* frames) {
  float loudest = 0.0f;
  for (int t = 0; t < kNumFrames; ++t) loudest = Max(loudest, frames[t]->band_power);
  if (!(loudest > 0.0f)) return false;
  int loud = 0, peaked = 0;
  for (int t = 0; t < kNumFrames; ++t) {
    if (frames[t]->band_power < loudest * kToneLoudRatio) continue;
    ++loud;
    if (frames[t]->peak_power >= kTonePeakShare * frames[t]->band_power) ++peaked;
  }
  return 2 * peaked > loud;
}

// The MFCCs (kNumFrames x kNumCoeffs) of `n` input samples: trimmed, centred in one clip, librosa's MFCC; whether
// the window is a tone (g_tone).
void WindowMfcc(const int16_t* audio, long n, float* mfcc) {
  long start = 0, end = 0;
  Trim(audio, n, true, &start, &end);
  // data.features.fit_length: the trimmed audio in the middle of a clip, its offset on the hop grid like the trim
  // bounds, so every frame centre is a hop-grid sample of the input: a frame inside the trimmed audio is a kept one.
  const long left = (kAudioSamples - (end - start)) / 2 / kFrameHop * kFrameHop;
  const long shift = start - left;  // input index of clip sample 0
  int cuts = 0;
  float max_db = -1e30f;
  for (int t = 0; t < kStftFrames; ++t) {
    const long centre = static_cast<long>(t) * kFrameHop + shift;
    const long first = centre + kSpectrumFirst;
    if (Inside(centre, start, end)) {
      g_frames[t] = &Kept(audio, n, centre).spectrum;
    } else if (first + kFrameLength <= start || first >= end) {
      g_frames[t] = &Silent();
    } else {  // across a cut
      ComputeSpectrum(audio, first, start, end, &g_cut[cuts]);
      g_frames[t] = &g_cut[cuts++];
    }
    max_db = Max(max_db, g_frames[t]->max_db);
  }
  g_tone = IsTone(g_frames);
  // power_to_db's top_db over the whole clip.
  const float floor_db = max_db - kTopDb;
  float silent_dct[kNumCoeffs];
  bool silent_done = false;
  for (int t = 0; t < kNumFrames; ++t) {
    float* out = mfcc + t * kNumCoeffs;
    if (g_frames[t] != &g_silent) {
      FlooredDct(*g_frames[t], floor_db, out);
      continue;
    }
    if (!silent_done) FlooredDct(g_silent, floor_db, silent_dct);
    silent_done = true;
    for (int c = 0; c < kNumCoeffs; ++c) out[c] = silent_dct[c];
  }
}

// quantize.model_io.device_input: data.features.apply_norm, then the input tensor's quantization. Both clips are
// one: clipping z to +-kNormClip is clipping z / kInputScale to +-(kNormClip / kInputScale) (division is monotonic
// and rounds alike), and clipping the rounded value to int8 is clipping before rounding to the integers that give
// -128 and 127 (rounding is monotonic and keeps integers).
void Normalize(const float* mfcc, int8_t* features) {
  const float clip = kNormClip > 0.0f ? kNormClip / kInputScale : 1e30f;
  const float int8_low = static_cast<float>(-128 - kInputZeroPoint), int8_high = static_cast<float>(127 - kInputZeroPoint);
  const float low = -clip > int8_low ? -clip : int8_low;
  const float high = clip < int8_high ? clip : int8_high;
  for (int c = 0; c < kNumCoeffs; ++c) {
    float mean = 0.0f;
    if (kPerUtteranceMean) {
      for (int t = 0; t < kNumFrames; ++t) mean += mfcc[t * kNumCoeffs + c];
      mean /= static_cast<float>(kNumFrames);
    }
    for (int t = 0; t < kNumFrames; ++t) {
      const float v = (((mfcc[t * kNumCoeffs + c] - mean) - kNormMean[c]) / kNormStd[c]) / kInputScale;
      features[t * kNumCoeffs + c] =
          static_cast<int8_t>(RoundHalfEven(v < low ? low : (v > high ? high : v)) + kInputZeroPoint);
    }
  }
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
  for (int p = 0; p < kHalf; ++p) {  // into bit-reversed order
    const int r = kBitReversed.at[p];
    if (p < r) {
      float t = frame[2 * p];
      frame[2 * p] = frame[2 * r];
      frame[2 * r] = t;
      t = frame[2 * p + 1];
      frame[2 * p + 1] = frame[2 * r + 1];
      frame[2 * r + 1] = t;
    }
  }
  PowerSpectrumOfReversed(frame, power, num_bins);
}

void TrimBounds(const int16_t* audio, size_t num_samples, size_t* start, size_t* end) {
  *start = 0;
  *end = num_samples;
  if (!ValidAudio(audio, num_samples)) return;
  long first = 0, stop = 0;
  Trim(audio, static_cast<long>(num_samples), false, &first, &stop);
  *start = static_cast<size_t>(first);
  *end = static_cast<size_t>(stop);
}

bool ComputeMfcc(const int16_t* audio, size_t num_samples, float* mfcc, size_t mfcc_len) {
  if (!ValidAudio(audio, num_samples) || mfcc == nullptr || mfcc_len != kFeatureBytes) return false;
  g_spectra = 0;
  // A clip shares the kept frames' memory: the stream starts afresh after it.
  Forget();
  g_streaming = false;
  WindowMfcc(audio, static_cast<long>(num_samples), mfcc);
  return true;
}

bool Compute(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len) {
  if (features == nullptr || features_len != kFeatureBytes) return false;
  if (!ComputeMfcc(audio, num_samples, g_mfcc, kFeatureBytes)) return false;
  Normalize(g_mfcc, features);
  return true;
}

bool ComputeStream(const int16_t* window, uint32_t end, int8_t* features, size_t features_len) {
  if (window == nullptr || features == nullptr || features_len != kFeatureBytes) return false;
  g_spectra = 0;
  // The frame centred at window sample 0 moves on by the step in frames; any other step shares no frame.
  const uint32_t step = end - g_last_end;
  if (g_streaming && step % kFrameHop == 0 && step < static_cast<uint32_t>(kAudioSamples)) {
    g_origin_id += step / kFrameHop;
    g_origin_slot = static_cast<int>((static_cast<uint32_t>(g_origin_slot) + step / kFrameHop) % kKeptFrames);
  } else {
    Forget();
  }
  g_last_end = end;
  g_streaming = true;
  WindowMfcc(window, kAudioSamples, g_mfcc);
  Normalize(g_mfcc, features);
  return true;
}

void ResetStream() {
  Forget();
  g_streaming = false;
}

int SpectraComputed() { return g_spectra; }

bool LastWindowIsTone() { return g_tone; }

}  // namespace frontend
