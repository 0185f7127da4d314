// Host tests of the front end, built with the reference configuration's generated model_settings.h (the
// features of config.toml; firmware/tests/make_fixture.py). Fidelity to librosa on real clips is tested from
// Python through the same code (tests/test_frontend.py).
#include "frontend/frontend.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "tests/micro_test.h"

namespace {

constexpr double kPi = 3.14159265358979323846;

// A 100 ms "word": a 440 Hz + 1.3 kHz tone burst with a rising and falling envelope.
std::vector<int16_t> Burst(size_t total, size_t at, double gain) {
  std::vector<int16_t> audio(total, 0);
  const size_t length = frontend::kSampleRate / 10;
  for (size_t i = 0; i < length && at + i < total; ++i) {
    const double t = static_cast<double>(i) / frontend::kSampleRate;
    const double envelope = std::sin(kPi * static_cast<double>(i) / length);
    const double v = gain * envelope * (0.6 * std::sin(2 * kPi * 440 * t) + 0.3 * std::sin(2 * kPi * 1300 * t));
    audio[at + i] = static_cast<int16_t>(std::lround(v * 32767));
  }
  return audio;
}

std::vector<float> Mfcc(const std::vector<int16_t>& audio) {
  std::vector<float> out(frontend::kFeatureBytes);
  EXPECT_TRUE(frontend::ComputeMfcc(audio.data(), audio.size(), out.data(), out.size()));
  return out;
}

}  // namespace

TEST(FrontendLog10) {
  for (float x = 1e-10f; x < 1e6f; x *= 1.37f) {
    const double want = std::log10(static_cast<double>(x));
    EXPECT_TRUE(std::fabs(frontend::Log10(x) - want) < 2e-6 * (1.0 + std::fabs(want)));
  }
  EXPECT_EQ(frontend::Log10(1.0f), 0.0f);
}

TEST(FrontendPowerSpectrumMatchesDft) {
  std::vector<float> frame(kFftSize);
  std::srand(7);
  for (float& v : frame) v = static_cast<float>(std::rand()) / RAND_MAX - 0.5f;
  const std::vector<float> input = frame;
  std::vector<float> power(kFftSize / 2 + 1);
  frontend::PowerSpectrum(frame.data(), power.data(), kFftSize / 2 + 1);
  double worst = 0.0;
  for (int k = 0; k <= kFftSize / 2; ++k) {
    double re = 0.0, im = 0.0;
    for (int n = 0; n < kFftSize; ++n) {
      re += input[n] * std::cos(2 * kPi * k * n / kFftSize);
      im -= input[n] * std::sin(2 * kPi * k * n / kFftSize);
    }
    worst = std::fmax(worst, std::fabs(power[k] - (re * re + im * im)));
  }
  // Relative to the mean power of white noise (kFftSize / 12): float rounding only.
  EXPECT_TRUE(worst < 1e-4 * kFftSize / 12.0);
}

TEST(FrontendPowerSpectrumOfATone) {
  std::vector<float> frame(kFftSize);
  const int bin = 32;  // 1 kHz at 16 kHz and 512 points
  for (int n = 0; n < kFftSize; ++n) frame[n] = static_cast<float>(std::cos(2 * kPi * bin * n / kFftSize));
  std::vector<float> power(kFftSize / 2 + 1);
  frontend::PowerSpectrum(frame.data(), power.data(), kFftSize / 2 + 1);
  const double peak = (kFftSize / 2.0) * (kFftSize / 2.0);
  EXPECT_TRUE(std::fabs(power[bin] - peak) < 1e-3 * peak);
  for (int k = 0; k <= kFftSize / 2; ++k) {
    if (k != bin) EXPECT_TRUE(power[k] < 1e-6 * peak);
  }
}

TEST(FrontendRejectsBadSizes) {
  std::vector<int16_t> audio(frontend::kAudioSamples + 1, 100);
  std::vector<int8_t> features(frontend::kFeatureBytes);
  EXPECT_TRUE(!frontend::Compute(audio.data(), 0, features.data(), features.size()));
  EXPECT_TRUE(!frontend::Compute(audio.data(), audio.size(), features.data(), features.size()));
  EXPECT_TRUE(!frontend::Compute(audio.data(), 100, features.data(), features.size() - 1));
  EXPECT_TRUE(frontend::Compute(audio.data(), frontend::kAudioSamples, features.data(), features.size()));
}

TEST(FrontendTrimFindsTheBurst) {
  const size_t at = 6000;
  const std::vector<int16_t> audio = Burst(frontend::kAudioSamples, at, 0.5);
  size_t start = 0, end = 0;
  frontend::TrimBounds(audio.data(), audio.size(), &start, &end);
  // Frame-RMS trimming: bounds on the hop grid, within a window of the burst's ends.
  EXPECT_EQ(start % kFrameHop, 0u);
  EXPECT_TRUE(start <= at && start + kFrameLength >= at);
  const size_t burst_end = at + frontend::kSampleRate / 10;
  EXPECT_TRUE(end >= burst_end && end <= burst_end + kFrameLength);
}

TEST(FrontendSilenceIsAllowed) {
  const std::vector<int16_t> audio(frontend::kAudioSamples, 0);
  std::vector<int8_t> features(frontend::kFeatureBytes, 1);
  EXPECT_TRUE(frontend::Compute(audio.data(), audio.size(), features.data(), features.size()));
  for (int8_t v : features) EXPECT_EQ(v, features[0]);  // every frame alike: nothing was heard
}

TEST(FrontendPositionDoesNotMatter) {
  // Trimming and centring place a word alike wherever it was in the window (on the hop grid) and however long
  // the window was.
  std::vector<int8_t> a(frontend::kFeatureBytes), b(frontend::kFeatureBytes), c(frontend::kFeatureBytes);
  const std::vector<int16_t> early = Burst(frontend::kAudioSamples, 2 * kFrameHop * 10, 0.5);
  const std::vector<int16_t> late = Burst(frontend::kAudioSamples, 6 * kFrameHop * 10, 0.5);
  const std::vector<int16_t> short_clip = Burst(frontend::kAudioSamples / 2, 3 * kFrameHop * 10, 0.5);
  EXPECT_TRUE(frontend::Compute(early.data(), early.size(), a.data(), a.size()));
  EXPECT_TRUE(frontend::Compute(late.data(), late.size(), b.data(), b.size()));
  EXPECT_TRUE(frontend::Compute(short_clip.data(), short_clip.size(), c.data(), c.size()));
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a == c);
}

TEST(FrontendLoudnessMovesOnlyC0) {
  // A gain adds the same dB to every mel band: the orthonormal DCT puts that into c0 alone.
  const std::vector<float> quiet = Mfcc(Burst(frontend::kAudioSamples, 5000, 0.1));
  const std::vector<float> loud = Mfcc(Burst(frontend::kAudioSamples, 5000, 0.4));
  const double shift = 20.0 * std::log10(4.0) * std::sqrt(static_cast<double>(kNumMels));
  for (int t = 0; t < frontend::kNumFrames; ++t) {
    const float* q = &quiet[t * frontend::kNumMfcc];
    const float* l = &loud[t * frontend::kNumMfcc];
    EXPECT_TRUE(std::fabs(l[0] - q[0] - shift) < 0.05 * shift);
    // Up to 0.5: 16-bit rounding of the quiet edges of the burst (measured up to 0.22, values up to 85).
    for (int c = 1; c < frontend::kNumMfcc; ++c) EXPECT_TRUE(std::fabs(l[c] - q[c]) < 0.5);
  }
}

namespace {

// A recording of `seconds`: quiet noise, with bursts of several lengths, gains and gaps.
std::vector<int16_t> Recording(int seconds) {
  std::vector<int16_t> audio(static_cast<size_t>(seconds) * frontend::kSampleRate);
  std::srand(11);
  for (int16_t& v : audio) v = static_cast<int16_t>(std::rand() % 41 - 20);
  size_t at = 3000;
  for (double gain = 0.7; at + frontend::kSampleRate / 10 < audio.size(); gain *= 0.8) {
    const std::vector<int16_t> burst = Burst(audio.size(), at, gain);
    for (size_t i = 0; i < audio.size(); ++i) audio[i] = static_cast<int16_t>(audio[i] + burst[i]);
    at += 2100 + (at * 7) % 9000;  // irregular gaps, off the hop grid
  }
  return audio;
}

}  // namespace

TEST(FrontendStreamEqualsTheClipPathAndComputesOnlyNewFrames) {
  // The listener's windows: 1 s every 250 ms. Every window's features are Compute()'s bit for bit; after the
  // first window only the new audio's frames and those across the cuts and edges are computed.
  const std::vector<int16_t> audio = Recording(8);
  constexpr size_t kStep = frontend::kSampleRate / 4;
  const int cut_frames = 2 * ((kFrameLength + kFrameHop - 1) / kFrameHop);
  std::vector<std::vector<int8_t>> streamed;
  frontend::ResetStream();
  int windows = 0;
  for (size_t end = frontend::kAudioSamples; end <= audio.size(); end += kStep, ++windows) {
    std::vector<int8_t> features(frontend::kFeatureBytes);
    EXPECT_TRUE(frontend::ComputeStream(&audio[end - frontend::kAudioSamples], static_cast<uint32_t>(end),
                                        features.data(), features.size()));
    streamed.push_back(features);
    const int computed = frontend::SpectraComputed();
    if (windows == 0) {
      EXPECT_TRUE(computed >= frontend::kNumFrames - 4);
    } else {
      EXPECT_TRUE(computed <= static_cast<int>(kStep / kFrameHop) + cut_frames);
    }
  }
  EXPECT_EQ(windows, 29);
  for (int w = 0; w < windows; ++w) {
    const size_t end = frontend::kAudioSamples + static_cast<size_t>(w) * kStep;
    std::vector<int8_t> clip(frontend::kFeatureBytes);
    EXPECT_TRUE(frontend::Compute(&audio[end - frontend::kAudioSamples], frontend::kAudioSamples, clip.data(),
                                  clip.size()));
    EXPECT_TRUE(clip == streamed[w]);
  }
}

TEST(FrontendStreamStartsAfreshOffTheGrid) {
  // A step off the hop grid or backwards shares no frame (every frame is computed again); on the grid it does;
  // the features stay the clip's throughout.
  const std::vector<int16_t> audio = Recording(3);
  const size_t ends[] = {16000, 20000, 20080, 24080, 16000, 20000};
  const bool afresh[] = {true, false, true, false, true, false};
  std::vector<std::vector<int8_t>> streamed;
  frontend::ResetStream();
  for (size_t end : ends) {
    std::vector<int8_t> features(frontend::kFeatureBytes);
    EXPECT_TRUE(frontend::ComputeStream(&audio[end - frontend::kAudioSamples], static_cast<uint32_t>(end),
                                        features.data(), features.size()));
    streamed.push_back(features);
    const bool full = frontend::SpectraComputed() > frontend::kNumFrames / 2;
    EXPECT_EQ(full, afresh[streamed.size() - 1]);
  }
  for (size_t i = 0; i < streamed.size(); ++i) {
    std::vector<int8_t> clip(frontend::kFeatureBytes);
    EXPECT_TRUE(frontend::Compute(&audio[ends[i] - frontend::kAudioSamples], frontend::kAudioSamples, clip.data(),
                                  clip.size()));
    EXPECT_TRUE(clip == streamed[i]);
  }
}

namespace {

// `seconds` of a sine gliding from `from_hz` to `to_hz` (equal: a steady tone) with 20 ms fades, at sample `at` of
// `total` samples of quiet noise.
std::vector<int16_t> Tone(size_t total, size_t at, double seconds, double from_hz, double to_hz) {
  std::vector<int16_t> audio(total);
  std::srand(5);
  for (int16_t& v : audio) v = static_cast<int16_t>(std::rand() % 11 - 5);
  const size_t length = static_cast<size_t>(seconds * frontend::kSampleRate);
  const size_t fade = frontend::kSampleRate / 50;
  double phase = 0.0;
  for (size_t i = 0; i < length && at + i < total; ++i) {
    const double hz = from_hz * std::pow(to_hz / from_hz, static_cast<double>(i) / length);
    phase += 2 * kPi * hz / frontend::kSampleRate;
    const double envelope = std::fmin(1.0, std::fmin(static_cast<double>(i), static_cast<double>(length - i)) / fade);
    audio[at + i] = static_cast<int16_t>(audio[at + i] + std::lround(0.5 * envelope * std::sin(phase) * 32767));
  }
  return audio;
}

bool HeardAsTone(const std::vector<int16_t>& audio) {
  std::vector<int8_t> features(frontend::kFeatureBytes);
  EXPECT_TRUE(frontend::Compute(audio.data(), audio.size(), features.data(), features.size()));
  return frontend::LastWindowIsTone();
}

}  // namespace

TEST(FrontendHearsTonesAndGlides) {
  EXPECT_TRUE(HeardAsTone(Tone(frontend::kAudioSamples, 3000, 0.5, 440.0, 440.0)));
  EXPECT_TRUE(HeardAsTone(Tone(frontend::kAudioSamples, 1000, 0.8, 2500.0, 2500.0)));
  EXPECT_TRUE(HeardAsTone(Tone(frontend::kAudioSamples, 2000, 0.6, 300.0, 900.0)));  // a glide of an octave and more
}

TEST(FrontendHearsNoToneInTwoTonesNoiseOrSilence) {
  EXPECT_TRUE(!HeardAsTone(Burst(frontend::kAudioSamples, 5000, 0.5)));  // two partials: the peak holds 80 %
  EXPECT_TRUE(!HeardAsTone(Recording(1)));
  std::vector<int16_t> noise(frontend::kAudioSamples);
  std::srand(3);
  for (int16_t& v : noise) v = static_cast<int16_t>(std::rand() % 20001 - 10000);
  EXPECT_TRUE(!HeardAsTone(noise));
  EXPECT_TRUE(!HeardAsTone(std::vector<int16_t>(frontend::kAudioSamples, 0)));
  // A "word" over loud mains hum: below the band, the hum cannot make it a tone.
  std::vector<int16_t> hummed = Tone(frontend::kAudioSamples, 0, 1.0, 60.0, 60.0);
  const std::vector<int16_t> word = Burst(frontend::kAudioSamples, 5000, 0.4);
  for (size_t i = 0; i < hummed.size(); ++i) hummed[i] = static_cast<int16_t>(hummed[i] / 2 + word[i]);
  EXPECT_TRUE(!HeardAsTone(hummed));
}

TEST(FrontendStreamHearsTheTonesTheClipPathHears) {
  // A recording of words with a tone in the middle: every listener window decides as Compute() on it.
  std::vector<int16_t> audio = Recording(4);
  const std::vector<int16_t> tone = Tone(audio.size(), 24000, 0.7, 1000.0, 1000.0);
  for (size_t i = 24000; i < 24000 + 12000; ++i) audio[i] = tone[i];
  constexpr size_t kStep = frontend::kSampleRate / 4;
  std::vector<bool> streamed;
  frontend::ResetStream();
  std::vector<int8_t> features(frontend::kFeatureBytes);
  for (size_t end = frontend::kAudioSamples; end <= audio.size(); end += kStep) {
    EXPECT_TRUE(frontend::ComputeStream(&audio[end - frontend::kAudioSamples], static_cast<uint32_t>(end),
                                        features.data(), features.size()));
    streamed.push_back(frontend::LastWindowIsTone());
  }
  int tones = 0;
  for (size_t w = 0; w < streamed.size(); ++w) {
    const size_t end = frontend::kAudioSamples + w * kStep;
    const std::vector<int16_t> window(audio.begin() + static_cast<long>(end - frontend::kAudioSamples),
                                      audio.begin() + static_cast<long>(end));
    EXPECT_EQ(HeardAsTone(window), streamed[w]);
    tones += streamed[w] ? 1 : 0;
  }
  EXPECT_TRUE(tones >= 1);                                  // the windows around the tone
  EXPECT_TRUE(tones < static_cast<int>(streamed.size()));  // not those of the words alone
}
