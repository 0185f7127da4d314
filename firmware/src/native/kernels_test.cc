// The native engine's int16 sigmoid and tanh against TFLM's own (the pinned tree's
// reference_integer_ops::Logistic and Tanh, called as TFLM's LSTM calls them) on every int16 input. Built with
// tests/test_main.cc by `make native-kernels-test` (tests/test_native.py); the table comes from a generated model.
#include <cstdint>
#include <string>

#include "native/kernels.h"
#include "native/lstm.h"
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

// CellTanh15<kShift> (cell scale 2^(kShift - 12)) against TFLM's lstm_eval Tanh(cell_state_scale_power) for
// kShift..kMaxShift; the first differing shift and input, or an empty string.
template <int kShift>
std::string FirstTanhDifference() {
  // TFLM: multiplier 0 means 3 << shift, otherwise 3 with a right shift.
  const int32_t one[1] = {1};
  const tflite::RuntimeShape shape(1, one);
  const int32_t at = FirstDifference(
      [](int16_t x) {
        return static_cast<int16_t>(native::lstm_detail::CellTanh15<kShift>(x, native::lstm_detail::kGateConstants) >>
                                    15);
      },
      [&](int16_t x) {
        int16_t y = 0;
        tflite::reference_integer_ops::Tanh(kShift < 0 ? 3 : 0, kShift < 0 ? -kShift : kShift, shape, &x, shape, &y);
        return y;
      });
  if (at != INT32_MIN) return "tanh, cell scale 2^" + std::to_string(kShift - 12) + ", input " + std::to_string(at);
  if constexpr (kShift < kMaxCellPower + 12) return FirstTanhDifference<kShift + 1>();
  return "";
}

TEST(TanhEqualsTflmOnEveryInputAndCellScale) {
  const std::string difference = FirstTanhDifference<kMinCellPower + 12>();
  if (!difference.empty()) micro_test::Fail(__FILE__, __LINE__, difference);
}
