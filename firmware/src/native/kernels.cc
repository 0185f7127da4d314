#include "native/kernels.h"

#include <cstring>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define NATIVE_DSP 1
#else
#define NATIVE_DSP 0
#endif

namespace native {

namespace {

constexpr int32_t kInt16Min = -32768;
constexpr int32_t kInt16Max = 32767;

inline int16_t Saturate16(int32_t x) {
#if NATIVE_DSP
  return static_cast<int16_t>(__ssat(x, 16));
#else
  return static_cast<int16_t>(Clamp(x, kInt16Min, kInt16Max));
#endif
}

inline int32_t Requantize(int32_t x, const Requant& r) {
  return MultiplyByQuantizedMultiplier(x, r.multiplier, r.shift);
}

inline uint32_t Load32(const int16_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// acc[r] = bias[r] + sum_k w[r][k] * x[k] for `rows` rows (a multiple of 4) of `cols` int16 (a multiple of 4), the
// weights in LstmModel's interleaved layout.
void MatVec(const uint64_t* w, const int16_t* x, int rows, int cols, const int32_t* bias, int32_t* acc) {
  for (int r = 0; r < rows; r += 4) {
    int32_t a0 = bias[r], a1 = bias[r + 1], a2 = bias[r + 2], a3 = bias[r + 3];
#if NATIVE_DSP
    // Two multiply-accumulates per SMLAD; four input values are loaded once for four rows, each row's four weights
    // with one LDRD (written out: the compiler splits the 64-bit loads under this register pressure).
    const int16_t* xp = x;
    for (int k = 0; k < cols; k += 4) {
      uint32_t x01, x23, lo, hi;
      __asm__(
          "ldr %[x01], [%[xp]], #4\n\t"
          "ldr %[x23], [%[xp]], #4\n\t"
          "ldrd %[lo], %[hi], [%[w]], #8\n\t"
          "smlad %[a0], %[lo], %[x01], %[a0]\n\t"
          "smlad %[a0], %[hi], %[x23], %[a0]\n\t"
          "ldrd %[lo], %[hi], [%[w]], #8\n\t"
          "smlad %[a1], %[lo], %[x01], %[a1]\n\t"
          "smlad %[a1], %[hi], %[x23], %[a1]\n\t"
          "ldrd %[lo], %[hi], [%[w]], #8\n\t"
          "smlad %[a2], %[lo], %[x01], %[a2]\n\t"
          "smlad %[a2], %[hi], %[x23], %[a2]\n\t"
          "ldrd %[lo], %[hi], [%[w]], #8\n\t"
          "smlad %[a3], %[lo], %[x01], %[a3]\n\t"
          "smlad %[a3], %[hi], %[x23], %[a3]"
          : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [xp] "+r"(xp),
            [x01] "=&r"(x01), [x23] "=&r"(x23), [lo] "=&r"(lo), [hi] "=&r"(hi)
          :
          : "memory");
    }
#else
    int32_t* const a[4] = {&a0, &a1, &a2, &a3};
    for (int k = 0; k < cols; k += 4, w += 4) {
      for (int q = 0; q < 4; ++q) {
        for (int c = 0; c < 4; ++c) *a[q] += static_cast<int16_t>((w[q] >> (16 * c)) & 0xFFFFu) * x[k + c];
      }
    }
#endif
    acc[r] = a0;
    acc[r + 1] = a1;
    acc[r + 2] = a2;
    acc[r + 3] = a3;
  }
}

// Inlined into the LSTM's loops; Sigmoid16/Tanh16 below are the same functions for the unit test.
inline int16_t SigmoidInline(int16_t x) {
  // TFLM's int16 logistic with the LSTM's Q3.12 input: multiplier 3, no shift, 9 fraction bits of the table index.
  const int32_t v = x * 3;
  const uint32_t a = static_cast<uint32_t>(v < 0 ? -v : v);
  const uint32_t index = a >> 9;
  uint32_t result;
  if (index >= 255) {
    result = 0x7FFFu << 10;
  } else {
    const uint32_t lo = kSigmoidTable[index];
    const uint32_t hi = kSigmoidTable[index + 1];
    result = (lo << 9) + (a & 0x1FFu) * (hi - lo);
  }
  result = v >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
  return static_cast<int16_t>(result >> 10);
}

inline int16_t TanhInline(int16_t x, int32_t multiplier, int32_t shift) {
  const int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
  const int32_t v = (x * multiplier + round) >> shift;
  const uint32_t a = static_cast<uint32_t>(v < 0 ? -v : v);
  const uint32_t index = a >> 8;
  int32_t result;
  if (index >= 255) {
    result = 0xFFFF << 8;
  } else {
    const uint32_t lo = kSigmoidTable[index];
    const uint32_t hi = kSigmoidTable[index + 1];
    result = static_cast<int32_t>((lo << 8) + (a & 0xFFu) * (hi - lo));
  }
  result = v >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
  return static_cast<int16_t>(result >> 8);
}

}  // namespace

int16_t Sigmoid16(int16_t x) { return SigmoidInline(x); }

int16_t Tanh16(int16_t x, int32_t multiplier, int32_t shift) { return TanhInline(x, multiplier, shift); }

void Lstm(const LstmModel& m, const int8_t* input, const LstmScratch& s, int8_t* output, int32_t* sums) {
  const int units = m.units;
  const int rows = kNumGates * units;
  std::memset(s.h, 0, sizeof(int16_t) * m.units_pad);
  std::memset(s.x, 0, sizeof(int16_t) * m.in_pad);
  std::memset(s.cell, 0, sizeof(int16_t) * units);
  // The hidden state starts at zero in its own quantization: the raw value is its zero point.
  for (int u = 0; u < units; ++u) s.h[u] = static_cast<int16_t>(m.hidden_zero_point);
  if (sums != nullptr) std::memset(sums, 0, sizeof(int32_t) * units);

  for (int t = 0; t < m.steps; ++t) {
    const int8_t* x = input + (m.reverse_input ? m.steps - 1 - t : t) * m.in_dim;
    for (int k = 0; k < m.in_dim; ++k) s.x[k] = x[k];

    // Gate pre-activations: each FC requantized to Q3.12 and saturated on its own, then added saturating
    // (TFLM's CalculateLstmGate).
    int32_t* acc_in = s.acc;
    int32_t* acc_rec = s.acc + rows;
    MatVec(m.input_weights, s.x, rows, m.in_pad, m.input_bias, acc_in);
    MatVec(m.recurrent_weights, s.h, rows, m.units_pad, m.recurrent_bias, acc_rec);
    for (int g = 0; g < kNumGates; ++g) {
      const BoundedRequant& q = m.input_fc[g];
      const int32_t* acc = acc_in + g * units;
      int16_t* gate = s.gates + g * units;
      for (int u = 0; u < units; ++u) gate[u] = Saturate16(RequantizeBounded(acc[u], q));
    }
    for (int g = 0; g < kNumGates; ++g) {
      const BoundedRequant& q = m.recurrent_fc[g];
      const int32_t* acc = acc_rec + g * units;
      int16_t* gate = s.gates + g * units;
      if (g == 2 && !m.cell_gate_sigmoid) {
        for (int u = 0; u < units; ++u) {
          gate[u] = TanhInline(Saturate16(gate[u] + Saturate16(RequantizeBounded(acc[u], q))), 3, 0);
        }
      } else {
        for (int u = 0; u < units; ++u) {
          gate[u] = SigmoidInline(Saturate16(gate[u] + Saturate16(RequantizeBounded(acc[u], q))));
        }
      }
    }
    const int16_t* in_gate = s.gates;
    const int16_t* forget_gate = s.gates + units;
    const int16_t* cell_gate = s.gates + 2 * units;
    const int16_t* out_gate = s.gates + 3 * units;
    // Parameters in locals: the int8 stores below may alias anything, which would reload them every unit.
    const BoundedRequant forget_mul = m.forget_mul, input_mul = m.input_mul, output_mul = m.output_mul;
    const int32_t clip = m.cell_clip, tanh_multiplier = m.cell_tanh_multiplier, tanh_shift = m.cell_tanh_shift;
    const int32_t hidden_zero_point = m.hidden_zero_point;
    for (int u = 0; u < units; ++u) {
      // Cell: forget x cell + input x cell gate, each product requantized and saturated, the sum saturated.
      const int32_t kept = Saturate16(RequantizeBounded(forget_gate[u] * s.cell[u], forget_mul));
      const int32_t added = Saturate16(RequantizeBounded(in_gate[u] * cell_gate[u], input_mul));
      int32_t cell = Saturate16(kept + added);
      if (clip > 0) cell = Clamp(cell, -clip, clip);
      s.cell[u] = static_cast<int16_t>(cell);
      // Hidden: tanh(cell) x output gate, to int8 with the hidden state's zero point.
      const int16_t tanh_cell = TanhInline(static_cast<int16_t>(cell), tanh_multiplier, tanh_shift);
      const int32_t h = Clamp(hidden_zero_point + RequantizeBounded(tanh_cell * out_gate[u], output_mul), -128, 127);
      s.h[u] = static_cast<int16_t>(h);
      if (output != nullptr) output[t * units + u] = static_cast<int8_t>(h);
      if (sums != nullptr) sums[u] += h;
    }
  }
}

void MeanFromSums(const MeanModel& m, const int32_t* sums, int n, int8_t* output) {
  for (int i = 0; i < n; ++i) {
    const int32_t shifted = sums[i] - m.input_zero_point * m.count;
    output[i] = static_cast<int8_t>(Clamp(Requantize(shifted, m.requant) + m.output_zero_point, -128, 127));
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
      for (int k = 0; k < m.in_dim; ++k) acc += w[k] * x[k];
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
      if (diff >= m.diff_min) {
        const int32_t scaled = RoundingDoublingHighMul(diff * (1 << m.input_left_shift), m.input_multiplier);
        sum_of_exps += RoundingDivideByPot(ExpOnNegativeValues(scaled), kAccumulationIntegerBits);
      }
    }
    const int headroom_plus_one = CountLeadingZeros(static_cast<uint32_t>(sum_of_exps));
    const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        static_cast<int32_t>((static_cast<uint32_t>(sum_of_exps) << headroom_plus_one) - (1u << 31));
    const int32_t shifted_scale = OneOverOnePlusX(shifted_sum_minus_one);
    const int exponent = num_bits_over_unit + 31 - 8;
    for (int c = 0; c < m.depth; ++c) {
      const int32_t diff = in[c] - max;
      int32_t value = -128;
      if (diff >= m.diff_min) {
        const int32_t scaled = RoundingDoublingHighMul(diff * (1 << m.input_left_shift), m.input_multiplier);
        const int32_t exp = ExpOnNegativeValues(scaled);
        value = Clamp(RoundingDivideByPot(RoundingDoublingHighMul(shifted_scale, exp), exponent) - 128, -128, 127);
      }
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
