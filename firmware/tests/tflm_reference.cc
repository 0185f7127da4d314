// The pinned TFLM (the board's revision, host reference kernels) as a command-line scorer, the reference the
// native engine is checked against on the host (tests/test_native.py):
//   tflm_reference <model.tflite> <clips.bin> <scores.bin>
// clips.bin holds n int8 clips of the model's input size back to back; scores.bin receives n int8 score vectors.
// The LSTM state is reset before every clip, as on the device.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tests/reference_ops.h"

namespace {

// Enough for every model the pipeline builds on the host (the board's limit is checked elsewhere).
constexpr size_t kArenaBytes = 1 << 20;
alignas(16) uint8_t g_arena[kArenaBytes];

bool ReadFile(const char* path, std::vector<uint8_t>* out) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  uint8_t chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) out->insert(out->end(), chunk, chunk + n);
  std::fclose(f);
  return true;
}

int Fail(const char* what, const char* path) {
  std::fprintf(stderr, "tflm_reference: %s: %s\n", path, what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: tflm_reference <model.tflite> <clips.bin> <scores.bin>\n");
    return 2;
  }
  std::vector<uint8_t> model, clips;
  if (!ReadFile(argv[1], &model)) return Fail("cannot read", argv[1]);
  if (!ReadFile(argv[2], &clips)) return Fail("cannot read", argv[2]);
  static reference_ops::Resolver resolver;
  reference_ops::Register(resolver);
  tflite::MicroInterpreter interpreter(tflite::GetModel(model.data()), resolver, g_arena, sizeof(g_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) return Fail("TFLM cannot allocate the model", argv[1]);
  const size_t in_bytes = interpreter.input(0)->bytes;
  const size_t out_bytes = interpreter.output(0)->bytes;
  if (clips.size() % in_bytes != 0) return Fail("not a whole number of clips of the model's input size", argv[2]);
  FILE* out = std::fopen(argv[3], "wb");
  if (out == nullptr) return Fail("cannot write", argv[3]);
  for (size_t offset = 0; offset < clips.size(); offset += in_bytes) {
    if (interpreter.Reset() != kTfLiteOk) return Fail("reset failed", argv[1]);
    std::memcpy(interpreter.input(0)->data.int8, clips.data() + offset, in_bytes);
    if (interpreter.Invoke() != kTfLiteOk) return Fail("invoke failed", argv[1]);
    std::fwrite(interpreter.output(0)->data.int8, 1, out_bytes, out);
  }
  return std::fclose(out) == 0 ? 0 : Fail("cannot write", argv[3]);
}
