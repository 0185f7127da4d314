// TEST DOUBLE of the on-device front end's interface (firmware/src/frontend/frontend.h, issue 19 items 1-3), for
// the listener's unit tests until the real front end is in the tree: the test build puts firmware/src first on the
// include path, so once src/frontend/frontend.h exists it is the one compiled against.
#pragma once

#include <cstddef>
#include <cstdint>

namespace frontend {

// 1 s of 16 kHz int16 audio -> the model's int8 input (`features_len` bytes). False on wrong sizes.
bool Compute(const int16_t* audio, size_t num_samples, int8_t* features, size_t features_len);

// The listener's path: the same features for a window of a recording; the double keeps no state.
bool ComputeStream(const int16_t* window, uint32_t end, int8_t* features, size_t features_len);
void ResetStream();
int SpectraComputed();

}  // namespace frontend
