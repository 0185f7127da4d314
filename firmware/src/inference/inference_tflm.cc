// Inference with TensorFlow Lite Micro (the pinned revision 90b983c2, firmware/third_party), public API only.
#include <algorithm>
#include <cstring>

#include "app/generated_model.h"
#include "core/inference.h"
#include "core/platform.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace inference {

namespace {

// Distinct operator types of the mean-pooled BiLSTM (the quantize stage checks the model against the Add lines below).
constexpr int kNumOpTypes = 6;
// Expected tensor shapes: input [1, frames, coeffs], output [1, labels].
constexpr int kInputRank = 3;
constexpr int kOutputRank = 2;

// CMSIS-NN kernels want the arena 16-byte aligned.
alignas(16) uint8_t g_tensor_arena[kTensorArenaSize];
tflite::MicroInterpreter* g_interpreter = nullptr;

// "operator <NAME> not registered" for the boot log; the longest builtin name is 36 characters.
char g_missing_op[64];

// Appends `text` at `*pos`, keeping the terminating NUL inside the buffer (no printf: on the board it would pull
// vsnprintf, about 14 KB of flash, into the image).
void Append(char* buffer, size_t size, size_t* pos, const char* text) {
  while (*text != '\0' && *pos + 1 < size) buffer[(*pos)++] = *text++;
  buffer[*pos] = '\0';
}

// The first operator of the model the resolver cannot run, or nullptr when all are there: checked before
// AllocateTensors, so a missing kernel is named as such instead of surfacing as a failed allocation.
const char* MissingOperator(const tflite::Model* model, const tflite::MicroOpResolver& resolver) {
  const auto* codes = model->operator_codes();
  if (codes == nullptr) return "model has no operator codes";
  for (const tflite::OperatorCode* code : *codes) {
    // The schema keeps small builtin codes in the deprecated int8 field, larger ones in builtin_code.
    const tflite::BuiltinOperator op = std::max(code->builtin_code(),
                                                static_cast<tflite::BuiltinOperator>(code->deprecated_builtin_code()));
    if (op == tflite::BuiltinOperator_CUSTOM || resolver.FindOp(op) != nullptr) continue;
    size_t pos = 0;
    Append(g_missing_op, sizeof(g_missing_op), &pos, "operator ");
    Append(g_missing_op, sizeof(g_missing_op), &pos, tflite::EnumNameBuiltinOperator(op));
    Append(g_missing_op, sizeof(g_missing_op), &pos, " not registered");
    return g_missing_op;
  }
  return nullptr;
}

bool ScaleIs(float scale, uint32_t bits) {
  uint32_t actual;
  std::memcpy(&actual, &scale, sizeof(actual));
  return actual == bits;
}

}  // namespace

const char* EngineName() { return "tflm"; }

const char* Init() {
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return "model schema version differs from TFLM's";

  // Exactly the model's operators, nothing else.
  static tflite::MicroMutableOpResolver<kNumOpTypes> op_resolver;
  op_resolver.AddUnidirectionalSequenceLSTM();
  op_resolver.AddReverseV2();
  op_resolver.AddMean();
  op_resolver.AddConcatenation();
  op_resolver.AddFullyConnected();
  op_resolver.AddSoftmax();

  if (const char* missing = MissingOperator(model, op_resolver)) return missing;

  static tflite::MicroInterpreter interpreter(model, op_resolver, g_tensor_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    // Operators are all registered (checked above): TFLM's log lines before this one say whether the arena was
    // short ("missing: <bytes>") or a kernel rejected a tensor (type, quantization, shape).
    return "AllocateTensors failed: arena too short or a kernel rejected the model (see TFLM's log above)";
  }

  const TfLiteTensor* input = interpreter.input(0);
  if (input == nullptr || input->type != kTfLiteInt8) return "input is not int8";
  if (input->dims->size != kInputRank || input->dims->data[0] != 1 || input->dims->data[1] != kNumFrames ||
      input->dims->data[2] != kNumCoeffs || input->bytes != static_cast<size_t>(kInputBytes)) {
    return "input shape differs from model_settings.h";
  }
  if (input->params.zero_point != kInputZeroPoint || !ScaleIs(input->params.scale, kInputScaleBits)) {
    return "input quantization differs from model_settings.h";
  }
  const TfLiteTensor* output = interpreter.output(0);
  if (output == nullptr || output->type != kTfLiteInt8) return "output is not int8";
  if (output->dims->size != kOutputRank || output->dims->data[0] != 1 || output->dims->data[1] != kNumLabels) {
    return "output shape differs from model_settings.h";
  }
  if (output->params.zero_point != kOutputZeroPoint || !ScaleIs(output->params.scale, kOutputScaleBits)) {
    return "output quantization differs from model_settings.h";
  }
  g_interpreter = &interpreter;
  return nullptr;
}

uint32_t ArenaUsedBytes() {
  return g_interpreter == nullptr ? 0 : static_cast<uint32_t>(g_interpreter->arena_used_bytes());
}

bool Run(const int8_t* input, size_t input_len, int8_t* scores, size_t num_scores, Timing* timing) {
  if (g_interpreter == nullptr || input_len != static_cast<size_t>(kInputBytes) ||
      num_scores != static_cast<size_t>(kNumLabels)) {
    return false;
  }
  // LSTM state must not leak from one clip into the next.
  if (g_interpreter->Reset() != kTfLiteOk) return false;
  std::memcpy(g_interpreter->input(0)->data.int8, input, input_len);

  const uint32_t start_micros = platform::MicrosNow();
  const uint32_t start_cycles = platform::CyclesNow();
  const TfLiteStatus status = g_interpreter->Invoke();
  timing->cycles = platform::CyclesNow() - start_cycles;
  timing->micros = platform::MicrosNow() - start_micros;
  if (status != kTfLiteOk) return false;

  std::memcpy(scores, g_interpreter->output(0)->data.int8, num_scores);
  return true;
}

}  // namespace inference
