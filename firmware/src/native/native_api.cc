// A C interface to the generated model for the host: the shared library behind the `native` backend
// (quantize/native_runner.py) and the fuzz target's native side.
#include <cstddef>
#include <cstdint>

#include "generated/native_model.h"

extern "C" {

int native_input_bytes() { return native_model::kInputBytes; }

int native_output_bytes() { return native_model::kOutputBytes; }

// `count` clips one after the other: inputs [count][kInputBytes], outputs [count][kOutputBytes].
void native_invoke(const int8_t* inputs, int8_t* outputs, int count) {
  for (int i = 0; i < count; ++i) {
    native_model::Invoke(inputs + static_cast<size_t>(i) * native_model::kInputBytes,
                         outputs + static_cast<size_t>(i) * native_model::kOutputBytes);
  }
}

}  // extern "C"
