#include "native/kernels.h"

#include <cstring>

#include "native/lstm.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#endif

namespace native {

namespace {

inline int32_t Requantize(int32_t x, const Requant& r) {
  return MultiplyByQuantizedMultiplier(x, r.multiplier, r.shift);
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
// Bytes 1 and 3 sign-extended to halfwords (SXTB16 with its rotation; the compiler rotates separately).
inline uint32_t Sxtb16Ror8(uint32_t v) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
#endif

}  // namespace

int16_t Sigmoid16(int16_t x) {
  using namespace lstm_detail;
  return static_cast<int16_t>(SigmoidTop(x * 3, kGateConstants) >> 16);
}


void MeanFromSums(const MeanModel& m, const int32_t* sums, int n, int8_t* output) {
  const int32_t rounding = m.right > 0 ? 1 << (m.right - 1) : 0;
  for (int i = 0; i < n; ++i) {
    const int32_t x = sums[i] - m.input_zero_point * m.count;
    // RoundingDivideByPot's - 1 for a negative value: the product's sign is x's (m > 0; zero rounds alike).
    const int32_t doubled = static_cast<int32_t>(static_cast<uint32_t>(x) << m.left);
    const int32_t high = lstm_detail::MulHigh(doubled, m.multiplier);
    const int32_t sign = m.right > 0 ? static_cast<int32_t>(lstm_detail::SignBit(x)) : 0;
    const int32_t mean = (high + rounding - sign) >> m.right;
    output[i] = static_cast<int8_t>(Clamp(mean + m.output_zero_point, -128, 127));
  }
}

void SumAxis(const int8_t* input, int outer, int count, int inner, int32_t* sums) {
  for (int o = 0; o < outer; ++o) {
    for (int i = 0; i < inner; ++i) {
      int32_t sum = 0;
      for (int c = 0; c < count; ++c) sum += input[(o * count + c) * inner + i];
      sums[o * inner + i] = sum;
    }
  }
}

void FullyConnected(const FullyConnectedModel& m, const int8_t* input, int batches, int8_t* output) {
  for (int b = 0; b < batches; ++b) {
    const int8_t* x = input + b * m.in_dim;
    for (int o = 0; o < m.out_dim; ++o) {
      const int8_t* w = m.weights + o * m.in_dim;
      int32_t acc = m.bias[o];
      int k = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
      // Four int8 pairs per two SMLAD: SXTB16 widens bytes 0 and 2 (and, rotated, 1 and 3) of both operands alike.
      for (; k + 4 <= m.in_dim; k += 4) {
        uint32_t wv, xv;
        std::memcpy(&wv, w + k, sizeof(wv));
        std::memcpy(&xv, x + k, sizeof(xv));
        acc = __smlad(__sxtb16(wv), __sxtb16(xv), acc);
        acc = __smlad(Sxtb16Ror8(wv), Sxtb16Ror8(xv), acc);
      }
#endif
      for (; k < m.in_dim; ++k) acc += w[k] * x[k];
      const int32_t scaled = Requantize(acc, m.requant[m.per_channel ? o : 0]) + m.output_zero_point;
      output[b * m.out_dim + o] = static_cast<int8_t>(Clamp(scaled, m.act_min, m.act_max));
    }
  }
}

namespace {

// gemmlowp fixed-point helpers for the softmax (raw int32 values; Qm.n per the comments).
inline int32_t SaturatingShiftLeft(int32_t x, int shift) {
  const int32_t max = INT32_MAX >> shift;
  const int32_t min = INT32_MIN >> shift;
  return x > max ? INT32_MAX : (x < min ? INT32_MIN : static_cast<int32_t>(static_cast<uint32_t>(x) << shift));
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out.
int32_t ExpOnQuarterInterval(int32_t a) {
  constexpr int32_t kExpMinusOneEighth = 1895147668;
  constexpr int32_t kOneThird = 715827883;
  const int32_t x = a + (1 << 28);
  const int32_t x2 = RoundingDoublingHighMul(x, x);
  const int32_t x3 = RoundingDoublingHighMul(x2, x);
  const int32_t x4 = RoundingDoublingHighMul(x2, x2);
  const int32_t x4_over_4 = RoundingDivideByPot(x4, 2);
  const int32_t poly = RoundingDivideByPot(RoundingDoublingHighMul(x4_over_4 + x3, kOneThird) + x2, 1);
  return kExpMinusOneEighth + RoundingDoublingHighMul(kExpMinusOneEighth, x + poly);
}

// exp(a) for a <= 0: a in Q5.26, result in Q0.31.
int32_t ExpOnNegativeValues(int32_t a) {
  constexpr int kFractionBits = 26;
  constexpr int32_t kOneQuarter = 1 << (kFractionBits - 2);
  const int32_t a_mod_quarter_minus_quarter = (a & (kOneQuarter - 1)) - kOneQuarter;
  int32_t result = ExpOnQuarterInterval(SaturatingShiftLeft(a_mod_quarter_minus_quarter, 5));
  const int32_t remainder = a_mod_quarter_minus_quarter - a;
  // exp(-2^k) for k = -2..4 in Q0.31, applied for each bit of the remainder.
  static constexpr int32_t kMultipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = 0; k < 7; ++k) {
    if (remainder & (1 << (kFractionBits - 2 + k))) result = RoundingDoublingHighMul(result, kMultipliers[k]);
  }
  return a == 0 ? INT32_MAX : result;
}

// 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson, three iterations).
int32_t OneOverOnePlusX(int32_t a) {
  const int32_t half_denominator =
      static_cast<int32_t>((static_cast<int64_t>(a) + INT32_MAX + 1) / 2);  // rounding half sum with 1.0
  constexpr int32_t k48Over17 = 1515870810;       // Q2.29
  constexpr int32_t kMinus32Over17 = -1010580540;  // Q2.29
  int32_t x = k48Over17 + RoundingDoublingHighMul(half_denominator, kMinus32Over17);
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus = (1 << 29) - RoundingDoublingHighMul(half_denominator, x);
    x = x + SaturatingShiftLeft(RoundingDoublingHighMul(x, one_minus), 2);
  }
  return SaturatingShiftLeft(x, 1);
}

inline int CountLeadingZeros(uint32_t x) { return x == 0 ? 32 : __builtin_clz(x); }

}  // namespace

void Softmax(const SoftmaxModel& m, const int8_t* input, int outer, int8_t* output) {
  constexpr int kAccumulationIntegerBits = 12;
  for (int o = 0; o < outer; ++o) {
    const int8_t* in = input + o * m.depth;
    int8_t* out = output + o * m.depth;
    int32_t max = -128;
    for (int c = 0; c < m.depth; ++c) max = in[c] > max ? in[c] : max;
    int32_t sum_of_exps = 0;  // Q12.19
    for (int c = 0; c < m.depth; ++c) {
      const int32_t diff = in[c] - max;
      m.exps[c] = 0;  // below diff_min: the class scores the minimum
      if (diff >= m.diff_min) {
        const int32_t scaled = RoundingDoublingHighMul(diff * (1 << m.input_left_shift), m.input_multiplier);
        m.exps[c] = ExpOnNegativeValues(scaled);
        sum_of_exps += RoundingDivideByPot(m.exps[c], kAccumulationIntegerBits);
      }
    }
    const int headroom_plus_one = CountLeadingZeros(static_cast<uint32_t>(sum_of_exps));
    const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        static_cast<int32_t>((static_cast<uint32_t>(sum_of_exps) << headroom_plus_one) - (1u << 31));
    const int32_t shifted_scale = OneOverOnePlusX(shifted_sum_minus_one);
    const int exponent = num_bits_over_unit + 31 - 8;
    for (int c = 0; c < m.depth; ++c) {
      const int32_t value =
          in[c] - max >= m.diff_min
              ? Clamp(RoundingDivideByPot(RoundingDoublingHighMul(shifted_scale, m.exps[c]), exponent) - 128, -128, 127)
              : -128;
      out[c] = static_cast<int8_t>(value);
    }
  }
}

void Reverse(const int8_t* input, int outer, int count, int inner, int8_t* output) {
  for (int o = 0; o < outer; ++o) {
    for (int c = 0; c < count; ++c) {
      std::memcpy(output + (o * count + c) * inner, input + (o * count + count - 1 - c) * inner,
                  static_cast<size_t>(inner));
    }
  }
}

void Concatenate(const int8_t* const* inputs, const int* inners, int num, int outer, int8_t* output) {
  for (int o = 0; o < outer; ++o) {
    for (int i = 0; i < num; ++i) {
      std::memcpy(output, inputs[i] + o * inners[i], static_cast<size_t>(inners[i]));
      output += inners[i];
    }
  }
}

}  // namespace native
