// The native engine's int16 sigmoid and tanh against TFLM's own (the pinned tree's
// reference_integer_ops::Logistic and Tanh, called as TFLM's LSTM calls them) on every int16 input. Built with
// tests/test_main.cc by `make native-kernels-test` (tests/test_native.py); the table comes from a generated model.
#include <cstdint>
#include <string>

#include "native/kernels.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/logistic.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/tanh.h"
#include "tests/micro_test.h"

namespace {

// Cell-state scales 2^kMinCellPower..2^kMaxCellPower (the cell gate's tanh is that of 2^-12).
constexpr int kMinCellPower = -20;
constexpr int kMaxCellPower = 0;

// The first input where `native` and `tflm` differ, or INT32_MIN.
template <typename Native, typename Tflm>
int32_t FirstDifference(Native native, Tflm tflm) {
  for (int32_t i = INT16_MIN; i <= INT16_MAX; ++i) {
    if (native(static_cast<int16_t>(i)) != tflm(static_cast<int16_t>(i))) return i;
  }
  return INT32_MIN;
}

}  // namespace

TEST(SigmoidEqualsTflmOnEveryInput) {
  const int32_t at = FirstDifference([](int16_t x) { return native::Sigmoid16(x); },
                                     [](int16_t x) {
                                       int16_t y = 0;
                                       tflite::reference_integer_ops::Logistic(0, 0, 1, &x, &y);
                                       return y;
                                     });
  EXPECT_EQ(at, INT32_MIN);
}

TEST(TanhEqualsTflmOnEveryInputAndCellScale) {
  const int32_t one[1] = {1};
  const tflite::RuntimeShape shape(1, one);
  for (int power = kMinCellPower; power <= kMaxCellPower; ++power) {
    // TFLM's lstm_eval Tanh(cell_state_scale_power): multiplier 0 means 3 << shift; the generator's equivalent.
    const int32_t shift = 15 + power - 3;
    const int32_t tflm_multiplier = shift < 0 ? 3 : 0, tflm_shift = shift < 0 ? -shift : shift;
    const int32_t native_multiplier = shift < 0 ? 3 : 3 << shift, native_shift = shift < 0 ? -shift : 0;
    const int32_t at = FirstDifference(
        [&](int16_t x) { return native::Tanh16(x, native_multiplier, native_shift); },
        [&](int16_t x) {
          int16_t y = 0;
          tflite::reference_integer_ops::Tanh(tflm_multiplier, tflm_shift, shape, &x, shape, &y);
          return y;
        });
    if (at != INT32_MIN) {
      micro_test::Fail(__FILE__, __LINE__, "tanh, cell scale 2^" + std::to_string(power) + ", input " +
                                               std::to_string(at));
    }
  }
}
