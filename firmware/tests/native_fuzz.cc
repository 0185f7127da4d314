// libFuzzer target: the native engine against TFLM (the host reference kernels of the pinned tree) on any input.
// Each fuzz input becomes one int8 clip (repeated to the model's input size); the generated model (native_model.cc)
// and the TFLM interpreter on the same model's flatbuffer must give the same scores, byte for byte. Built with
// ASan/UBSan over the engine and its kernels (make firmware-native-fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "app/generated_model.h"
#include "generated/native_model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tests/reference_ops.h"

namespace {

// The host reference kernels need less arena than CMSIS-NN; the generated size covers both.
alignas(16) uint8_t g_arena[kTensorArenaSize];

tflite::MicroInterpreter* Reference() {
  static reference_ops::Resolver resolver;
  static tflite::MicroInterpreter* interpreter = nullptr;
  if (interpreter == nullptr) {
    reference_ops::Register(resolver);
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
  const int8_t* tflm = reference->output(0)->data.int8;
  if (std::memcmp(native, tflm, sizeof(native)) != 0) {
    // Both score vectors, so a saved crash input says at once which classes differ and by how much.
    for (int i = 0; i < native_model::kOutputBytes; ++i) {
      std::fprintf(stderr, "score %d: native %d tflm %d\n", i, native[i], tflm[i]);
    }
    __builtin_trap();  // the native engine differs from TFLM: libFuzzer saves the input as a crash
  }
  return 0;
}
