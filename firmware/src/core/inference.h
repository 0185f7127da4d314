// Inference: the one small interface between the core and the model runtime. Exactly one implementation is
// linked: inference_tflm.cc (TensorFlow Lite Micro) or inference_native.cc (the model compiled to C, src/native)
// on the board (ENGINE=tflm|native), inference_fake.cc for host tests (the protocol's reference fake inference,
// a test double).
#pragma once

#include <cstddef>
#include <cstdint>

namespace inference {

struct Timing {
  uint32_t micros = 0;
  uint32_t cycles = 0;
};

// Which implementation runs ("tflm", "native", "fake"): reported by HELLO.
const char* EngineName();

// Loads and checks the model; nullptr on success, otherwise a short reason for the boot log.
const char* Init();

// Tensor-arena bytes the runtime actually uses (after a successful Init()).
uint32_t ArenaUsedBytes();

// Runs one clip from a fresh state: `input` holds `input_len` int8 features, `scores` receives `num_scores`
// int8 outputs, `timing` the latency of the model invocation alone. False when the runtime failed.
bool Run(const int8_t* input, size_t input_len, int8_t* scores, size_t num_scores, Timing* timing);

}  // namespace inference
