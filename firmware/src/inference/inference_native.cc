// Inference with the native engine: the model compiled to C by the quantize stage (gen/native_model.cc,
// quantize/native.py) on the kernel library of src/native. No interpreter, no flatbuffer, no tensor arena: the
// engine's buffers are static and the scores are TFLM's, byte for byte (tests/test_native.py, the self-test).
#include "app/generated_model.h"
#include "core/inference.h"
#include "core/platform.h"
#include "generated/native_model.h"

namespace inference {

namespace {

constexpr bool SameText(const char* a, const char* b) {
  return *a == *b && (*a == '\0' || SameText(a + 1, b + 1));
}

// The generated engine and the settings come from one run of the quantize stage (same model hash).
static_assert(SameText(native_model::kModelHash, kModelHash),
              "native_model.h and model_settings.h are of different models: make quantize");
static_assert(native_model::kInputBytes == kInputBytes, "native model input size differs from model_settings.h");
static_assert(native_model::kOutputBytes == kNumLabels, "native model output size differs from model_settings.h");

}  // namespace

const char* EngineName() { return "native"; }

const char* Init() { return nullptr; }

uint32_t ArenaUsedBytes() { return 0; }

bool Run(const int8_t* input, size_t input_len, int8_t* scores, size_t num_scores, Timing* timing) {
  if (input_len != static_cast<size_t>(kInputBytes) || num_scores != static_cast<size_t>(kNumLabels)) return false;
  const uint32_t start_micros = platform::MicrosNow();
  const uint32_t start_cycles = platform::CyclesNow();
  native_model::Invoke(input, scores);
  timing->cycles = platform::CyclesNow() - start_cycles;
  timing->micros = platform::MicrosNow() - start_micros;
  return true;
}

}  // namespace inference
