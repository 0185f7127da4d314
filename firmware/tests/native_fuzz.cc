// libFuzzer target: the native engine against TFLM (the host reference kernels of the pinned tree) on any input.
// Each fuzz input becomes one int8 clip (repeated to the model's input size); the generated model (native_model.cc)
// and the TFLM interpreter on the same model's flatbuffer must give the same scores, byte for byte. Built with
// ASan/UBSan over the engine and its kernels (make firmware-native-fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "app/generated_model.h"
#include "generated/native_model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace {

// The host reference kernels need less arena than CMSIS-NN; the generated size covers both.
alignas(16) uint8_t g_arena[kTensorArenaSize];

tflite::MicroInterpreter* Reference() {
  static tflite::MicroMutableOpResolver<6> resolver;
  static tflite::MicroInterpreter* interpreter = nullptr;
  if (interpreter == nullptr) {
    resolver.AddUnidirectionalSequenceLSTM();
    resolver.AddReverseV2();
    resolver.AddMean();
    resolver.AddConcatenation();
    resolver.AddFullyConnected();
    resolver.AddSoftmax();
    static tflite::MicroInterpreter instance(tflite::GetModel(g_model_data), resolver, g_arena, sizeof(g_arena));
    if (instance.AllocateTensors() != kTfLiteOk) std::abort();
    interpreter = &instance;
  }
  return interpreter;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  int8_t clip[native_model::kInputBytes];
  for (int i = 0; i < native_model::kInputBytes; ++i) clip[i] = static_cast<int8_t>(data[i % size]);

  int8_t native[native_model::kOutputBytes];
  native_model::Invoke(clip, native);

  tflite::MicroInterpreter* reference = Reference();
  if (reference->Reset() != kTfLiteOk) std::abort();
  std::memcpy(reference->input(0)->data.int8, clip, sizeof(clip));
  if (reference->Invoke() != kTfLiteOk) std::abort();
  if (std::memcmp(native, reference->output(0)->data.int8, sizeof(native)) != 0) {
    __builtin_trap();  // the native engine differs from TFLM: libFuzzer saves the input as a crash
  }
  return 0;
}
