// The native engine's UNIDIRECTIONAL_SEQUENCE_LSTM: int8 input/hidden, int8 weights, int16 cell, batch 1, no
// peephole, projection or layer norm (TFLM 90b983c2's integer arithmetic, see kernels.h). A template on the
// generated model's constexpr LstmModel: sizes, shifts, rounding constants and zero points become immediates and
// loop bounds, so the inner loops keep their registers for the data (the generated native_model.cc instantiates
// it once per LSTM).
#pragma once

#include <cstdint>
#include <cstring>

#include "native/kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define NATIVE_LSTM_DSP 1
#else
#define NATIVE_LSTM_DSP 0
#endif

namespace native {
namespace lstm_detail {

inline int32_t SignBit(int32_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v) >> 31); }

// BoundedRequant's requantization; kRound: right > 0 (right == 0 needs no rounding step at all).
template <bool kRound>
inline int32_t RequantizeBounded(int32_t x, const BoundedRequant& q) {
#if NATIVE_LSTM_DSP
  int32_t high;
  if (q.left == 1) {
    // SMMLAR: (x * 2^32 + x * (2m - 2^32) + 2^31) >> 32 = (2x * m + 2^31) >> 32, the doubling for free.
    const int32_t twice = static_cast<int32_t>(static_cast<uint32_t>(q.multiplier) << 1);
    __asm__("smmlar %0, %1, %2, %1" : "=r"(high) : "r"(x), "r"(twice));
  } else {
    // SMMULR: (a * b + 2^31) >> 32, i.e. gemmlowp's rounding doubling high multiply of x (doubled here).
    const int32_t doubled = static_cast<int32_t>(static_cast<uint32_t>(x) << q.left);
    __asm__("smmulr %0, %1, %2" : "=r"(high) : "r"(doubled), "r"(q.multiplier));
  }
#else
  const int32_t doubled = static_cast<int32_t>(static_cast<uint32_t>(x) << q.left);
  const int32_t high = static_cast<int32_t>((static_cast<int64_t>(doubled) * q.multiplier + (INT64_C(1) << 31)) >> 32);
#endif
  if (!kRound) return high;
  // Half away from zero: negative values round with one less (the sign bit, one shifted operand on ARM).
  return (high + q.rounding - SignBit(high)) >> q.right;
}

// x clamped to a signed kBits-bit integer (one SSAT).
template <int kBits>
inline int32_t Saturate(int32_t x) {
#if NATIVE_LSTM_DSP
  return __ssat(x, kBits);
#else
  return Clamp(x, -(1 << (kBits - 1)), (1 << (kBits - 1)) - 1);
#endif
}

#if NATIVE_LSTM_DSP
// Four columns k..k + 3 of four rows: a[q] (+)= w[q][k..k + 3] . x[k..k + 3]. Two multiply-accumulates per
// SMLAD; the four input values are loaded once for the four rows (one LDRD at a constant offset, so the input
// pointer stays in its register), two rows' weights with one LDM into four fixed, ascending registers (LDM's
// register list is fixed in the encoding). The first step of a block without bias starts the sums (SMUAD).
#define NATIVE_DOT4_STEP(op0, op1, op2, op3, acc)                                                              \
  {                                                                                                          \
    uint32_t x01, x23;                                                                                       \
    register uint32_t w0 __asm__("r8");                                                                      \
    register uint32_t w1 __asm__("r9");                                                                      \
    register uint32_t w2 __asm__("r10");                                                                     \
    register uint32_t w3 __asm__("r11");                                                                     \
    __asm__("ldrd %[x01], %[x23], [%[x], %[offset]]\n\t"                                                      \
            "ldm %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                                    \
            op0 "\n\t"                                                                                       \
            "smlad %[a0], %[w1], %[x23], %[a0]\n\t"                                                          \
            op1 "\n\t"                                                                                       \
            "smlad %[a1], %[w3], %[x23], %[a1]\n\t"                                                          \
            "ldm %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                                    \
            op2 "\n\t"                                                                                       \
            "smlad %[a2], %[w1], %[x23], %[a2]\n\t"                                                          \
            op3 "\n\t"                                                                                       \
            "smlad %[a3], %[w3], %[x23], %[a3]"                                                              \
            : [a0] acc(a0), [a1] acc(a1), [a2] acc(a2), [a3] acc(a3), [w] "+r"(w), [x01] "=&r"(x01),         \
              [x23] "=&r"(x23), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)                 \
            : [x] "r"(x), [offset] "i"(2 * kK)                                                              \
            : "memory");                                                                                     \
  }
#endif

// a[q] (+)= sum_k w[q][k] * x[k] for one block of four rows of kCols int16 (a multiple of 4) in LstmModel's
// interleaved layout, from column kK on; advances `w` past the block. kZeroInit: the accumulators start from
// zero (their values on entry are ignored). Always inlined: the accumulators must stay in registers.
template <int kCols, bool kZeroInit, int kK = 0>
[[gnu::always_inline]] inline void Dot4(const uint64_t*& w, const int16_t* x, int32_t& a0, int32_t& a1, int32_t& a2,
                                        int32_t& a3) {
  if constexpr (kK < kCols) {
#if NATIVE_LSTM_DSP
    if constexpr (kZeroInit && kK == 0) {
      NATIVE_DOT4_STEP("smuad %[a0], %[w0], %[x01]", "smuad %[a1], %[w2], %[x01]", "smuad %[a2], %[w0], %[x01]",
                       "smuad %[a3], %[w2], %[x01]", "=&r")
    } else {
      NATIVE_DOT4_STEP("smlad %[a0], %[w0], %[x01], %[a0]", "smlad %[a1], %[w2], %[x01], %[a1]",
                       "smlad %[a2], %[w0], %[x01], %[a2]", "smlad %[a3], %[w2], %[x01], %[a3]", "+r")
    }
#else
    if (kZeroInit && kK == 0) a0 = a1 = a2 = a3 = 0;
    int32_t* const a[4] = {&a0, &a1, &a2, &a3};
    for (int q = 0; q < 4; ++q) {
      for (int c = 0; c < 4; ++c) *a[q] += static_cast<int16_t>((w[q] >> (16 * c)) & 0xFFFFu) * x[kK + c];
    }
    w += 4;
#endif
    Dot4<kCols, kZeroInit, kK + 4>(w, x, a0, a1, a2, a3);
  }
}
#undef NATIVE_DOT4_STEP

// S(j) * (2^kBits - f) + S(j + 1) * f + offset = S(j) * 2^kBits + (S(j + 1) - S(j)) * f + offset for
// v = j * 2^kBits + f (kActivationTable), |v >> kBits| <= 256.
template <int kBits>
inline int32_t Interpolate(int32_t v, int32_t offset) {
  const uint32_t* center = kActivationTable + kActivationTableOffset;
#if NATIVE_LSTM_DSP
  // The table's center as one address: otherwise the compiler adds the offset to every index.
  __asm__("" : "+r"(center));
#endif
  const uint32_t entry = center[v >> kBits];  // S(j) in bits 0-15, S(j + 1) - S(j) in bits 16-31
  // 2^kBits in bits 0-15, f in bits 16-31: one multiply-accumulate of both halves.
  const uint32_t weights = (1u << kBits) | ((static_cast<uint32_t>(v) & ((1u << kBits) - 1)) << 16);
#if NATIVE_LSTM_DSP
  return __smlad(entry, weights, offset);
#else
  return static_cast<int16_t>(entry & 0xFFFFu) * (1 << kBits) +
         static_cast<int16_t>(entry >> 16) * static_cast<int32_t>(weights >> 16) + offset;
#endif
}

// TFLM's int16 logistic with the LSTM's Q3.12 input (multiplier 3, no shift, 9 fraction bits of the table
// index; |3x| >> 9 < 255, so never its saturation). TFLM interpolates at |v| and mirrors, adding 2^9 (v >= 0) or
// 2^9 - 1 (v < 0); the odd-symmetric table gives the mirrored value directly, offset by -2^24.
inline int16_t Sigmoid(int32_t x) {
  const int32_t v = x * 3;
  return static_cast<int16_t>((Interpolate<9>(v, (1 << 24) + (1 << 9)) - SignBit(v)) >> 10);
}

// TFLM's int16 tanh of an input already scaled by its multiplier and shift (8 fraction bits of the table index).
// TFLM saturates from |v| >> 8 >= 255, where T[255] = T[256] = 65535 interpolate to the same value: clamping v to
// 17 bits keeps the index in the table and changes nothing. Offset -2^23 by the table, +2^7 (v >= 0) or 2^7 - 1.
inline int16_t TanhScaled(int32_t v) {
  v = Saturate<17>(v);
  return static_cast<int16_t>((Interpolate<8>(v, 1 << 7) - SignBit(v)) >> 8);
}

inline int32_t ScaleTanhInput(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t round = shift > 0 ? 1 << (shift - 1) : 0;
  return (x * multiplier + round) >> shift;
}

// Input FC of gate G: gate[u] = saturate16(requant(W x)) for its units_pad rows (the bias is in W and x).
template <const LstmModel& M, int G>
inline void InputGate(const int16_t* x, int16_t* gate) {
  constexpr const BoundedRequant& q = M.input_fc[G];
  constexpr int kRows = M.units_pad;
  const uint64_t* w = M.input_weights + G * kRows * M.in_pad / 4;
  const auto finish = [&q](int32_t acc, int16_t& g) {
    g = static_cast<int16_t>(Saturate<16>(RequantizeBounded<(q.right > 0)>(acc, q)));
  };
  for (int r = 0; r < kRows; r += 4) {
    int32_t a0, a1, a2, a3;
    Dot4<M.in_pad, true>(w, x, a0, a1, a2, a3);
    finish(a0, gate[r]);
    finish(a1, gate[r + 1]);
    finish(a2, gate[r + 2]);
    finish(a3, gate[r + 3]);
  }
}

// Recurrent FC of gate G added (saturating) to its input FC part, then the gate's activation (TFLM's
// CalculateLstmGate): gate[u] = act(saturate16(gate[u] + saturate16(requant(bias + W h)))). The cell gate (2)
// uses tanh unless the model's cell activation is sigmoid.
template <const LstmModel& M, int G>
inline void RecurrentGate(const int16_t* h, int16_t* gate) {
  constexpr const BoundedRequant& q = M.recurrent_fc[G];
  constexpr bool kTanh = G == 2 && !M.cell_gate_sigmoid;
  constexpr int kRows = M.units_pad;
  const uint64_t* w = M.recurrent_weights + G * kRows * M.units_pad / 4;
  constexpr bool kNoBias = M.recurrent_bias == nullptr;
  // Accumulators in scalars: an array would live on the stack through the dot product.
  const auto finish = [&q](int32_t acc, int16_t& g) {
    const int32_t pre = Saturate<16>(g + Saturate<16>(RequantizeBounded<(q.right > 0)>(acc, q)));
    g = kTanh ? TanhScaled(pre * 3) : Sigmoid(pre);
  };
  for (int r = 0; r < kRows; r += 4) {
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (!kNoBias) {
      const int32_t* bias = M.recurrent_bias + G * kRows + r;
      a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
    }
    Dot4<M.units_pad, kNoBias>(w, h, a0, a1, a2, a3);
    finish(a0, gate[r]);
    finish(a1, gate[r + 1]);
    finish(a2, gate[r + 2]);
    finish(a3, gate[r + 3]);
  }
}

}  // namespace lstm_detail

// Runs the LSTM over all steps from a zero state. `output` ([steps][units] int8) may be null; `sums` ([units]
// int32, may be null) receives the sum over the steps of each hidden unit (a fused MEAN over time).
template <const LstmModel& M>
void Lstm(const int8_t* input, const LstmScratch& s, int8_t* output, int32_t* sums) {
  using namespace lstm_detail;
  constexpr int kUnits = M.units;
  constexpr int kRows = M.units_pad;  // per gate
  std::memset(s.x, 0, sizeof(int16_t) * M.in_pad);
  // The input bias columns: bias & 0x3FFF times 1, plus (bias >> 14) times 2^14.
  s.x[M.in_dim] = 1;
  s.x[M.in_dim + 1] = 1 << 14;
  std::memset(s.cell, 0, sizeof(int16_t) * kUnits);
  // The hidden state starts at zero in its own quantization: the raw value is its zero point (the padding
  // columns meet zero weights).
  for (int u = 0; u < kRows; ++u) s.h[u] = static_cast<int16_t>(M.hidden_zero_point);
  if (sums != nullptr) std::memset(sums, 0, sizeof(int32_t) * kUnits);

  for (int t = 0; t < M.steps; ++t) {
    const int8_t* x = input + (M.reverse_input ? M.steps - 1 - t : t) * M.in_dim;
#pragma GCC unroll 64
    for (int k = 0; k < M.in_dim; ++k) s.x[k] = x[k];

    // Gate pre-activations: each FC requantized to Q3.12 and saturated on its own, then added saturating.
    InputGate<M, 0>(s.x, s.gates);
    InputGate<M, 1>(s.x, s.gates + kRows);
    InputGate<M, 2>(s.x, s.gates + 2 * kRows);
    InputGate<M, 3>(s.x, s.gates + 3 * kRows);
    RecurrentGate<M, 0>(s.h, s.gates);
    RecurrentGate<M, 1>(s.h, s.gates + kRows);
    RecurrentGate<M, 2>(s.h, s.gates + 2 * kRows);
    RecurrentGate<M, 3>(s.h, s.gates + 3 * kRows);

    const int16_t* in_gate = s.gates;
    const int16_t* forget_gate = s.gates + kRows;
    const int16_t* cell_gate = s.gates + 2 * kRows;
    const int16_t* out_gate = s.gates + 3 * kRows;
    for (int u = 0; u < kUnits; ++u) {
      // Cell: forget x cell + input x cell gate, each product requantized and saturated, the sum saturated.
      const int32_t kept = Saturate<16>(RequantizeBounded<true>(forget_gate[u] * s.cell[u], M.forget_mul));
      const int32_t added = Saturate<16>(RequantizeBounded<true>(in_gate[u] * cell_gate[u], M.input_mul));
      // The clip (<= 32767) makes the int16 saturation before it redundant.
      const int32_t cell =
          M.cell_clip > 0 ? Clamp(kept + added, -M.cell_clip, M.cell_clip) : Saturate<16>(kept + added);
      s.cell[u] = static_cast<int16_t>(cell);
      // Hidden: tanh(cell) x output gate, to int8 with the hidden state's zero point.
      const int32_t tanh_cell = TanhScaled(ScaleTanhInput(cell, M.cell_tanh_multiplier, M.cell_tanh_shift));
      const int32_t h =
          Saturate<8>(M.hidden_zero_point + RequantizeBounded<true>(tanh_cell * out_gate[u], M.output_mul));
      s.h[u] = static_cast<int16_t>(h);
      if (output != nullptr) output[t * kUnits + u] = static_cast<int8_t>(h);
      if (sums != nullptr) sums[u] += h;
    }
  }
}

}  // namespace native
