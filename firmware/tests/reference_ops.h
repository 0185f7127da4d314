// The operators of the pipeline's models, for the host-side TFLM references (native_fuzz.cc, tflm_reference.cc);
// the firmware's own list is in inference/inference_tflm.cc, which the quantize stage reads.
#pragma once

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace reference_ops {

constexpr int kNumOpTypes = 6;
using Resolver = tflite::MicroMutableOpResolver<kNumOpTypes>;

inline void Register(Resolver& resolver) {
  resolver.AddUnidirectionalSequenceLSTM();
  resolver.AddReverseV2();
  resolver.AddMean();
  resolver.AddConcatenation();
  resolver.AddFullyConnected();
  resolver.AddSoftmax();
}

}  // namespace reference_ops
