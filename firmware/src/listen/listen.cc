#include "listen/listen.h"

#include "app/generated_model.h"
#include "core/inference.h"
#include "core/line_writer.h"
#include "core/platform.h"
#include "frontend/frontend.h"
#include "listen/audio_provider.h"
#include "listen/recognition_settings.h"
#include "listen/recognize_commands.h"

namespace listen {

namespace {

constexpr uint32_t kWindowSamples = audio_provider::kSampleRate / 1000 * kWindowMs;
constexpr uint32_t kHopSamples = audio_provider::kSampleRate / 1000 * kEvaluateEveryMs;
static_assert(kWindowSamples + audio_provider::kGuardSamples <= audio_provider::kRingSamples,
              "the audio ring must hold a window");

alignas(4) int16_t g_window[kWindowSamples];  // word-aligned: AudioRing copies it a word at a time
int8_t g_features[kInputBytes];
int8_t g_scores[kNumLabels];
float g_probabilities[kNumLabels];
RecognizeCommands* g_recognizer = nullptr;
// Absolute sample index at which the next evaluated window ends.
uint32_t g_next_end = kWindowSamples;
Hop g_hop;

void Send(LineWriter& writer) {
  if (writer.FinishComment()) platform::Write(writer.data(), writer.size());
}

float Dequantize(int8_t score) {
  static const float scale = [] {
    const uint32_t bits = kOutputScaleBits;
    float value;
    __builtin_memcpy(&value, &bits, sizeof(value));
    return value;
  }();
  return static_cast<float>(score - kOutputZeroPoint) * scale;
}

void Report(const char* what, const char* reason) {
  LineWriter writer;
  writer.Put("# ").Put(what).Put(reason);
  Send(writer);
}

}  // namespace

bool Setup() {
  platform::Init();
  if (const char* error = inference::Init()) {
    Report("fatal: ", error);
    return false;
  }
  if (const char* error = audio_provider::Init()) {
    Report("fatal: ", error);
    return false;
  }
  static const RecognitionConfig config = {kAverageWindowMs, kMinimumCount, kDetectionThreshold, kRefractoryMs};
  static RecognizeCommands recognizer(config, kLabels, kNumLabels);
  recognizer = RecognizeCommands(config, kLabels, kNumLabels);  // a new recording forgets the old results
  g_recognizer = &recognizer;
  g_next_end = kWindowSamples;
  frontend::ResetStream();
  g_hop = Hop{0, 0, 0, 0, 0, g_features};
  LineWriter writer;
  writer.Put("# listening model=").Put(kModelHash).Put(" window=").PutUint(kWindowMs).Put("ms every=")
      .PutUint(kEvaluateEveryMs).Put("ms");
  Send(writer);
  return true;
}

bool Loop() {
  if (g_recognizer == nullptr) return false;
  audio_provider::Pump();
  const AudioRing& ring = audio_provider::Ring();
  if (ring.written() - g_next_end > ring.capacity()) return !audio_provider::Ended();  // not due (difference wrapped)
  if (!ring.Copy(g_next_end, kWindowSamples, audio_provider::kGuardSamples, g_window)) {
    // Fell behind by more than the ring holds (an inference took too long): continue with the newest window.
    g_next_end = ring.written() - ring.written() % kHopSamples;
    return true;
  }
  const uint32_t end = g_next_end;
  const uint32_t end_ms = static_cast<uint32_t>(static_cast<uint64_t>(end) * 1000 / audio_provider::kSampleRate);
  g_next_end += kHopSamples;
  platform::SetLed(true);
  inference::Timing timing;
  const uint32_t start_cycles = platform::CyclesNow();
  const bool computed = frontend::ComputeStream(g_window, end, g_features, kInputBytes);
  const uint32_t frontend_cycles = platform::CyclesNow() - start_cycles;
  const bool ok = computed && inference::Run(g_features, kInputBytes, g_scores, kNumLabels, &timing);
  platform::SetLed(false);
  g_hop = Hop{g_hop.count + 1, end_ms, frontend_cycles, timing.cycles, frontend::SpectraComputed(), g_features};
  if (!ok) {
    Report("error: ", "front end or inference failed");
    return true;
  }
  // A window the front end hears as a tone holds no word: it enters the average as nothing at all.
  const bool tone = frontend::LastWindowIsTone();
  for (int i = 0; i < kNumLabels; ++i) g_probabilities[i] = tone ? 0.0f : Dequantize(g_scores[i]);
  Recognition result;
  if (!g_recognizer->Process(g_probabilities, kNumLabels, end_ms, &result) || !result.heard) return true;
  // Two decimals, rounded, without printf (no float formatting is linked on the device).
  const uint32_t hundredths = static_cast<uint32_t>(result.score * 100.0f + 0.5f);
  LineWriter writer;
  writer.Put("# heard ").Put(kLabels[result.label]).Put(' ').PutUint(hundredths / 100).Put('.')
      .PutUint(hundredths % 100 / 10).PutUint(hundredths % 10).Put(" at ").PutUint(end_ms);
  Send(writer);
  return true;
}

const Hop& LastHop() { return g_hop; }

}  // namespace listen
