// The native engine's UNIDIRECTIONAL_SEQUENCE_LSTM: int8 input/hidden, int8 weights, int16 cell, batch 1, tanh
// cell activation, no peephole, projection or layer norm (TFLM 90b983c2's integer arithmetic, see kernels.h). A
// template on the generated model's constexpr LstmModel: sizes, shifts, rounding constants and zero points become
// immediates and loop bounds (the generated native_model.cc instantiates it once per LSTM).
//
// One step: (1) the input FC of every unit, its four gates requantized and packed two per word; (2) per unit, the
// recurrent FC of its four gates, the gates, the cell and the hidden state, all in registers. The arithmetic is
// written in portable C++ on primitives named after the Cortex-M4 DSP instructions that compute it (SMLAD, PKHBT,
// QADD16, SSAT, SMMULR, ...): the host build runs it. The Cortex-M4 build runs the dot products and the
// primitives of step (1) as those instructions, and the rest of step (2) as one block of hand-scheduled assembly
// (FinishUnit). tests/test_native.py checks both against TFLM: the host build directly, the Cortex-M4 build on the
// emulated board.
#pragma once

#include <cstdint>
#include <cstring>

#include "native/kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define NATIVE_LSTM_DSP 1
#else
#define NATIVE_LSTM_DSP 0
#endif

namespace native {
namespace lstm_detail {

// ---- primitives: one Cortex-M4 instruction each (asm where the Cortex-M4 build uses them) ------------------
#define NATIVE_INLINE [[gnu::always_inline]] inline

NATIVE_INLINE int32_t Bottom(uint32_t v) { return static_cast<int16_t>(v & 0xFFFFu); }
NATIVE_INLINE int32_t Top(uint32_t v) { return static_cast<int16_t>(v >> 16); }
NATIVE_INLINE uint32_t SignBit(int32_t v) { return static_cast<uint32_t>(v) >> 31; }

// SMLAD: bottom * bottom + top * top + acc (the callers keep the exact sum within int32).
NATIVE_INLINE int32_t Smlad(uint32_t a, uint32_t b, int32_t acc) {
  return static_cast<int32_t>(static_cast<int64_t>(Bottom(a)) * Bottom(b) + static_cast<int64_t>(Top(a)) * Top(b) +
                              acc);
}

// SMULTB / SMULBT / SMULTT: a product of two halves (T: top, B: bottom; first letter: first operand).
NATIVE_INLINE int32_t MulTB(uint32_t a, uint32_t b) { return Top(a) * Bottom(b); }
NATIVE_INLINE int32_t MulBT(uint32_t a, uint32_t b) { return Bottom(a) * Top(b); }
NATIVE_INLINE int32_t MulTT(uint32_t a, uint32_t b) { return Top(a) * Top(b); }

// SMLATB: top(a) * bottom(b) + acc.
NATIVE_INLINE int32_t MlaTB(uint32_t a, uint32_t b, int32_t acc) { return Top(a) * Bottom(b) + acc; }


// A primitive of two operands a and b: the instruction (asm template) on the Cortex-M4, `portable` elsewhere.
#if NATIVE_LSTM_DSP
#define NATIVE_BINARY(type, name, insn, portable)                 \
  NATIVE_INLINE type name(int32_t a, int32_t b) {                 \
    type r;                                                       \
    __asm__(insn : "=r"(r) : "r"(a), "r"(b));                     \
    return r;                                                     \
  }
#else
#define NATIVE_BINARY(type, name, insn, portable) \
  NATIVE_INLINE type name(int32_t a, int32_t b) { return portable; }
#endif
// PKHBT: the bottom half of a, above it the bottom half of b (b << 16).
NATIVE_BINARY(uint32_t, Pack, "pkhbt %0, %1, %2, lsl #16",
              (static_cast<uint32_t>(a) & 0xFFFFu) | (static_cast<uint32_t>(b) << 16))
// SMMULR: (a * b + 2^31) >> 32, gemmlowp's rounding doubling high multiply of a / 2 by b.
NATIVE_BINARY(int32_t, MulHigh, "smmulr %0, %1, %2",
              static_cast<int32_t>((static_cast<int64_t>(a) * b + (INT64_C(1) << 31)) >> 32))
#undef NATIVE_BINARY

// PKHBT with a shift: the bottom half of `bottom`, above it bits 16..31 of v << kShift.
template <int kShift>
NATIVE_INLINE uint32_t PackShifted(uint32_t bottom, int32_t v) {
  return (bottom & 0xFFFFu) | ((static_cast<uint32_t>(v) << kShift) & 0xFFFF0000u);
}

// QADD16: both halves added, each saturated to int16.
NATIVE_INLINE uint32_t Qadd16(uint32_t a, uint32_t b) {
  return Pack(Clamp(Bottom(a) + Bottom(b), INT16_MIN, INT16_MAX), Clamp(Top(a) + Top(b), INT16_MIN, INT16_MAX));
}

// STRD: two adjacent words.
NATIVE_INLINE void StorePair(uint32_t* p, uint32_t a, uint32_t b) {
#if NATIVE_LSTM_DSP
  __asm__("strd %1, %2, [%3]" : "=m"(*reinterpret_cast<uint64_t*>(p)) : "r"(a), "r"(b), "r"(p));
#else
  p[0] = a;
  p[1] = b;
#endif
}

// SSAT #kBits, x, ASR #kShift (kShift > 0) or LSL #-kShift: x shifted, clamped to a signed kBits-bit integer
// (one instruction).
template <int kBits, int kShift = 0>
NATIVE_INLINE int32_t SsatAsr(int32_t x) {
#if NATIVE_LSTM_DSP
  int32_t r;
  if constexpr (kShift == 0) {
    __asm__("ssat %0, %1, %2" : "=r"(r) : "i"(kBits), "r"(x));
  } else if constexpr (kShift > 0) {
    __asm__("ssat %0, %1, %2, asr %3" : "=r"(r) : "i"(kBits), "r"(x), "i"(kShift));
  } else {
    __asm__("ssat %0, %1, %2, lsl %3" : "=r"(r) : "i"(kBits), "r"(x), "i"(-kShift));
  }
  return r;
#else
  const int64_t shifted = kShift >= 0 ? x >> kShift : static_cast<int64_t>(x) * (INT64_C(1) << -kShift);
  return static_cast<int32_t>(shifted < -(INT64_C(1) << (kBits - 1)) ? -(INT64_C(1) << (kBits - 1))
                              : shifted > (INT64_C(1) << (kBits - 1)) - 1 ? (INT64_C(1) << (kBits - 1)) - 1
                                                                          : shifted);
#endif
}


// SMMLAR: acc + ((a * b + 2^31) >> 32).
NATIVE_INLINE int32_t MulHighAdd(int32_t a, int32_t b, int32_t acc) {
#if NATIVE_LSTM_DSP
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
  return r;
#else
  return acc + MulHigh(a, b);
#endif
}

// SMMLAR with a as the accumulator: (a * 2^32 + a * (2m - 2^32) + 2^31) >> 32 = (2a * m + 2^31) >> 32, the
// doubling for free (`twice` = 2m - 2^32 as int32, m >= 2^30).
NATIVE_INLINE int32_t MulHighDoubled(int32_t a, int32_t twice) {
  return static_cast<int32_t>((static_cast<int64_t>(a) * (static_cast<int64_t>(twice) + (INT64_C(1) << 32)) +
                               (INT64_C(1) << 31)) >> 32);
}

// ---- requantizations ------------------------------------------------------------------------------------------
// TFLM's MultiplyByQuantizedMultiplier of an accumulator (its left shift already in the weights) by the
// gate's multiplier `m` from the weight stream, saturated to int16: RoundingDivideByPot's half away from zero is
// + 2^(right - 1), - 1 when negative (the sign of the product is the accumulator's: m > 0, and a zero product
// rounds alike either way).
template <int kRight>
NATIVE_INLINE int32_t GateRequant(int32_t acc, int32_t m) {
  if constexpr (kRight == 0) {
    return SsatAsr<16>(MulHigh(acc, m));
  } else {
    return SsatAsr<16, kRight>(MulHighAdd(acc, m, 1 << (kRight - 1)) - static_cast<int32_t>(SignBit(acc)));
  }
}

// The cell's gate products requantized by 2^30 * 2^-(kRight + 31) (TFLM's multipliers 2^-15 and 2^-30 / cell
// scale, both powers of two): RoundingDoublingHighMul(x, 2^30) = (x + 1) >> 1, then RoundingDivideByPot by
// kRight, in one rounding: (x + 2^kRight + 1 - 2 [x < 0]) >> (kRight + 1), saturated to int16. x = top(gate) *
// bottom(b), a gate (a sigmoid, >= 0) times b: [x < 0] is [b < 0] (a zero gate rounds alike either way). b is a
// SignedWord, so + 1 - 2 [b < 0] is b >> 30; `power` = 2^kRight (StepConstants).
template <int kRight>
NATIVE_INLINE int32_t GateProduct(uint32_t gate, uint32_t b, int32_t power) {
  return SsatAsr<16, kRight + 1>(MlaTB(gate, b, power) + (static_cast<int32_t>(b) >> 30));
}

// An int16 value v with bit 30 set (one ORR): bits 0-15 still hold v, and bits 30-31 are 01 (v >= 0) or 11
// (v < 0), so that the word >> 30 (arithmetic) is 1 - 2 [v < 0] (GateProduct). The cell is kept so between steps.
NATIVE_INLINE uint32_t SignedWord(int32_t v) { return static_cast<uint32_t>(v) | 0x40000000u; }

// ---- activations ------------------------------------------------------------------------------------------------
// The interpolated table activation of v with kBits fraction bits of the table index j = v >> kBits, f = v mod
// 2^kBits: 2^(15 - kBits) * (S(j) * 2^kBits + dS(j) * f) + offset - [v < 0] (kActivationTable). One SMLAD: the
// entry's halves (-S'(j), dS(j)) times (-2^15, 2^(15 - kBits) * (f - 2^kBits [j odd])), the latter one PKHBT of
// v shifted left by 31 - kBits (f and j's parity bit into the top half) beside the -2^15 of kGateConstants.
template <int kBits>
NATIVE_INLINE int32_t Activation(int32_t v, int32_t offset, uint32_t constants) {
  const uint32_t* center = kActivationTable + kActivationTableOffset;
  return Smlad(center[v >> kBits], PackShifted<31 - kBits>(constants, v), offset) -
         static_cast<int32_t>(SignBit(v));
}

// 3 in the top half (the gates' Q3.12 input times 3 is the table's input), -2^15 in the bottom (Activation).
constexpr uint32_t kGateConstants = (3u << 16) | 0x8000u;
// TFLM's int16 logistic of a Q3.12 input x (multiplier 3, 9 fraction bits of the index; |3x| >> 9 < 255, never
// its saturation; mirrored for x < 0 by the odd-symmetric table, with TFLM's rounding 2^9 or 2^9 - 1): v = 3x,
// 2^6 * (T(v) * 2^9 + 2^9), T centred on 2^24. The result (Q0.15) is the top half: (value - [v < 0]) >> 16.
constexpr int32_t kSigmoidOffset = (1 << 30) + (1 << 15);
NATIVE_INLINE int32_t SigmoidTop(int32_t v, uint32_t constants) {
  return Activation<9>(v, kSigmoidOffset, constants);
}
// TFLM's int16 tanh of an input already scaled (8 fraction bits of the index), with TFLM's rounding 2^7 (2^7 - 1
// for v < 0); result (Q0.15) = value >> 15. TFLM saturates from |v| >> 8 >= 255, where T[255] = T[256] = 65535
// interpolate to the same value: clamping v to 17 bits keeps the index in the table and changes nothing.
constexpr int32_t kTanhOffset = 1 << 14;
NATIVE_INLINE int32_t Tanh15(int32_t v, uint32_t constants, int32_t offset = kTanhOffset) {
  return Activation<8>(SsatAsr<17>(v), offset, constants);
}

// TFLM's tanh of a cell with power-of-two scale 2^(kShift - 12): the input scaled by 3 << kShift (kShift >= 0)
// or 3 with a rounding right shift by -kShift, then Tanh15 (the scaling and its 17-bit clamp in one SSAT).
template <int kShift>
NATIVE_INLINE int32_t CellTanh15(int32_t cell, uint32_t constants, int32_t offset = kTanhOffset) {
  const int32_t three = cell + cell * 2;
  return Activation<8>(SsatAsr<17, -kShift>(kShift >= 0 ? three : three + (1 << (-kShift - 1))), offset, constants);
}

// ---- dot products -------------------------------------------------------------------------------------------------
#if NATIVE_LSTM_DSP
// Four columns k..k + 3 of the four gate rows of one unit: a[q] (+)= w[q][k..k + 3] . x[k..k + 3]. Two
// multiply-accumulates per SMLAD; the four input values are loaded once for the four rows (one LDRD at a constant
// offset, so the input pointer stays in its register), two rows' weights with one LDM into four fixed, ascending
// registers r8-r11 (LDM's register list is fixed in the encoding). The first step without a bias starts the sums
// (SMUAD).
#define NATIVE_DOT4_STEP(op0, op1, op2, op3, acc)                                                              \
  {                                                                                                          \
    uint32_t x01, x23;                                                                                       \
    __asm__("ldrd %[x01], %[x23], [%[x], %[offset]]\n\t"                                                      \
            "ldm %[w]!, {r8, r9, r10, r11}\n\t"                                                              \
            op0 "\n\t"                                                                                       \
            "smlad %[a0], r9, %[x23], %[a0]\n\t"                                                             \
            op1 "\n\t"                                                                                       \
            "smlad %[a1], r11, %[x23], %[a1]\n\t"                                                            \
            "ldm %[w]!, {r8, r9, r10, r11}\n\t"                                                              \
            op2 "\n\t"                                                                                       \
            "smlad %[a2], r9, %[x23], %[a2]\n\t"                                                             \
            op3 "\n\t"                                                                                       \
            "smlad %[a3], r11, %[x23], %[a3]"                                                                 \
            : [a0] acc(a0), [a1] acc(a1), [a2] acc(a2), [a3] acc(a3), [w] "+r"(w), [x01] "=&r"(x01),         \
              [x23] "=&r"(x23)                                                                               \
            : [x] "r"(x), [offset] "i"(2 * kK)                                                              \
            : "r8", "r9", "r10", "r11", "memory");                                                          \
  }
// The last two columns k, k + 1 of the four rows: one word of inputs, one word per row.
#define NATIVE_DOT2_STEP                                                                                     \
  {                                                                                                          \
    uint32_t x01;                                                                                            \
    __asm__("ldr %[x01], [%[x], %[offset]]\n\t"                                                              \
            "ldm %[w]!, {r8, r9, r10, r11}\n\t"                                                              \
            "smlad %[a0], r8, %[x01], %[a0]\n\tsmlad %[a1], r9, %[x01], %[a1]\n\t"                          \
            "smlad %[a2], r10, %[x01], %[a2]\n\tsmlad %[a3], r11, %[x01], %[a3]"                              \
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x01] "=&r"(x01)      \
            : [x] "r"(x), [offset] "i"(2 * kK)                                                              \
            : "r8", "r9", "r10", "r11", "memory");                                                          \
  }
#endif

// a[q] (+)= sum_k w[q][k] * x[k] over kCols int16 columns (a multiple of 2) from column kK on, for the four gate
// rows of one unit in LstmModel's stream layout; advances `w` past them. kZeroInit: the sums start from zero
// (the values on entry are ignored). Always inlined: the accumulators must stay in registers.
template <int kCols, bool kZeroInit, int kK = 0>
NATIVE_INLINE void Dot(const uint32_t*& w, const int16_t* x, int32_t& a0, int32_t& a1, int32_t& a2, int32_t& a3) {
  static_assert(kCols % 2 == 0, "columns come in pairs");
  if constexpr (kK + 4 <= kCols) {
#if NATIVE_LSTM_DSP
    if constexpr (kZeroInit && kK == 0) {
      NATIVE_DOT4_STEP("smuad %[a0], r8, %[x01]", "smuad %[a1], r10, %[x01]", "smuad %[a2], r8, %[x01]",
                       "smuad %[a3], r10, %[x01]", "=&r")
    } else {
      NATIVE_DOT4_STEP("smlad %[a0], r8, %[x01], %[a0]", "smlad %[a1], r10, %[x01], %[a1]",
                       "smlad %[a2], r8, %[x01], %[a2]", "smlad %[a3], r10, %[x01], %[a3]", "+r")
    }
#else
    if (kZeroInit && kK == 0) a0 = a1 = a2 = a3 = 0;
    int32_t* const a[4] = {&a0, &a1, &a2, &a3};
    for (int q = 0; q < 4; ++q) {
      for (int c = 0; c < 4; ++c) *a[q] += static_cast<int16_t>((w[2 * q + c / 2] >> (16 * (c % 2))) & 0xFFFFu) *
                                           x[kK + c];
    }
    w += 8;
#endif
    Dot<kCols, kZeroInit, kK + 4>(w, x, a0, a1, a2, a3);
  } else if constexpr (kK < kCols) {
    // The last two columns: one word per row, one LDM for the four rows.
    if constexpr (kZeroInit && kK == 0) a0 = a1 = a2 = a3 = 0;  // two columns in all
#if NATIVE_LSTM_DSP
    NATIVE_DOT2_STEP
#else
    uint32_t x01;
    std::memcpy(&x01, x + kK, sizeof(x01));
    a0 = Smlad(w[0], x01, a0);
    a1 = Smlad(w[1], x01, a1);
    a2 = Smlad(w[2], x01, a2);
    a3 = Smlad(w[3], x01, a3);
    w += 4;
#endif
  }
}
#undef NATIVE_DOT2_STEP
#undef NATIVE_DOT4_STEP

// The four int32 words at w (biases), w advanced past them: two LDRD.
NATIVE_INLINE void Load4(const uint32_t*& w, int32_t& v0, int32_t& v1, int32_t& v2, int32_t& v3) {
#if NATIVE_LSTM_DSP
  __asm__("ldrd %[v0], %[v1], [%[w]], #8\n\tldrd %[v2], %[v3], [%[w]], #8"
          : [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=r"(v3), [w] "+r"(w)
          :
          : "memory");
#else
  v0 = static_cast<int32_t>(w[0]);
  v1 = static_cast<int32_t>(w[1]);
  v2 = static_cast<int32_t>(w[2]);
  v3 = static_cast<int32_t>(w[3]);
  w += 4;
#endif
}

// The gates' four requantizations: each accumulator times its multiplier from the stream (one LDM into the dot
// product's weight registers, free by then), requantized to int16, packed in pairs: (gate 0, gate 1), (2, 3).
template <int kRight0, int kRight1, int kRight2, int kRight3>
NATIVE_INLINE void RequantizeGates(const uint32_t*& w, int32_t a0, int32_t a1, int32_t a2, int32_t a3, uint32_t& g01,
                                   uint32_t& g23) {
#if NATIVE_LSTM_DSP
  register int32_t m0 __asm__("r8");
  register int32_t m1 __asm__("r9");
  register int32_t m2 __asm__("r10");
  register int32_t m3 __asm__("r11");
  __asm__("ldm %[w]!, {%[m0], %[m1], %[m2], %[m3]}"
          : [w] "+r"(w), [m0] "=r"(m0), [m1] "=r"(m1), [m2] "=r"(m2), [m3] "=r"(m3)
          :
          : "memory");
#else
  const int32_t m0 = static_cast<int32_t>(w[0]), m1 = static_cast<int32_t>(w[1]);
  const int32_t m2 = static_cast<int32_t>(w[2]), m3 = static_cast<int32_t>(w[3]);
  w += 4;
#endif
  g01 = Pack(GateRequant<kRight0>(a0, m0), GateRequant<kRight1>(a1, m1));
  g23 = Pack(GateRequant<kRight2>(a2, m2), GateRequant<kRight3>(a3, m3));
}

// Phase 1 of a step: the input FC of every unit, each gate requantized and saturated to int16 (Q3.12).
template <const LstmModel& M>
NATIVE_INLINE void InputGates(const int16_t* x, LstmUnitState* state) {
  const uint32_t* w = M.input_stream;
  for (int u = 0; u < M.units; ++u) {
    int32_t a0, a1, a2, a3;
    Load4(w, a0, a1, a2, a3);  // the biases
    Dot<M.in_cols, false>(w, x, a0, a1, a2, a3);
    uint32_t g01, g23;
    RequantizeGates<M.input_right[0], M.input_right[1], M.input_right[2], M.input_right[3]>(w, a0, a1, a2, a3, g01,
                                                                                             g23);
    StorePair(state[u].gates, g01, g23);
  }
}

// Phase 2 of a step for unit u: its recurrent FC added (saturating) to the input FC's part, the gates (TFLM's
// CalculateLstmGate), the cell (UpdateLstmCell) and the hidden state (CalculateLstmOutput). Returns the int8
// hidden state.
// After each unit's multipliers in the recurrent stream: the constants of its step (the Cortex-M4 code loads
// them with one LDM; as immediates the compiler would materialize them for every unit), then the hidden state's
// multiplier as 2m - 2^32 (MulHighDoubled's `twice`).
struct StepConstants {
  uint32_t gate;           // kGateConstants
  int32_t sigmoid_offset;  // kSigmoidOffset
  int32_t tanh_offset;     // kTanhOffset = 2^14, also GateProduct's 2^kRight of the forget gate x cell
};
constexpr int kStepWords = 4;  // StepConstants and the hidden state's multiplier
// The forget gate x cell's requantization is always 2^-15 (2^30 * 2^-(14 + 31)): its 2^kRight is the tanh's
// offset.
constexpr int kForgetShift = 14;
static_assert(1 << kForgetShift == kTanhOffset, "StepConstants::tanh_offset is both");

#if NATIVE_LSTM_DSP
// One gate's recurrent requantization in the finish below: accumulator `a` times multiplier `m`, rounded by the
// gate's right shift `r` (GateRequant), saturated to int16, in place.
#define NATIVE_GATE_REQUANT(a, m, r)                                   \
  ".if %c[" r "]\n\t"                                                  \
  "smmulr %[t], %[" a "], " m "\n\t"                                   \
  "add %[t], %[t], #(1 << (%c[" r "] - 1))\n\t"                        \
  "sub %[t], %[t], %[" a "], lsr #31\n\t"                              \
  "ssat %[" a "], #16, %[t], asr #%c[" r "]\n\t"                       \
  ".else\n\t"                                                          \
  "smmulr %[" a "], %[" a "], " m "\n\t"                               \
  "ssat %[" a "], #16, %[" a "]\n\t"                                   \
  ".endif\n\t"
// The same with the rounding constant 2^(r0 - 1) in %[center] and the shift r0.
#define NATIVE_GATE_REQUANT_ROUNDED(a, m)                              \
  "smmlar %[t], %[" a "], " m ", %[center]\n\t"                      \
  "sub %[t], %[t], %[" a "], lsr #31\n\t"                            \
  "ssat %[" a "], #16, %[t], asr #%c[r0]\n\t"
// A sigmoid gate (Activation<9> with kSigmoidOffset in r9, kGateConstants in r8): v = 3 x in %[t], the gate
// (Q0.15) into the top half of `out`.
#define NATIVE_SIGMOID(out)                                            \
  "asr %[" out "], %[t], #9\n\t"                                       \
  "ldr %[" out "], [%[center], %[" out "], lsl #2]\n\t"                \
  "pkhbt r11, r8, %[t], lsl #22\n\t"                                   \
  "smlad %[" out "], %[" out "], r11, r9\n\t"                          \
  "sub %[" out "], %[" out "], %[t], lsr #31\n\t"
// A tanh (Activation<8> with kTanhOffset in r10) of v in %[t] (already clamped to 17 bits): Q0.15 into `out`.
#define NATIVE_TANH(out)                                               \
  "asr %[" out "], %[t], #8\n\t"                                       \
  "ldr %[" out "], [%[center], %[" out "], lsl #2]\n\t"                \
  "pkhbt r11, r8, %[t], lsl #23\n\t"                                   \
  "smlad %[" out "], %[" out "], r11, r10\n\t"                         \
  "sub %[" out "], %[" out "], %[t], lsr #31\n\t"                      \
  "asr %[" out "], %[" out "], #15\n\t"
#endif

#if NATIVE_LSTM_DSP
// UnitStep's arithmetic after the dot products on the Cortex-M4, scheduled by hand: the compiler's allocation
// spilled and reloaded constants and pointers around every unit. The same integers as the portable code below
// (tests/test_native.py compares both with TFLM); registers a0..a3 (the accumulators, then the work), t, r8-r11
// (from the stream: multipliers, then StepConstants, r11 the interpolation weights). Returns the hidden state.
template <const LstmModel& M>
NATIVE_INLINE int32_t FinishUnit(const uint32_t*& w, int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                 LstmUnitState& s) {
  constexpr int32_t kHiddenRounding = (1 << (M.hidden_right - 1)) + M.hidden_zero_point * (1 << M.hidden_right);
  const uint32_t* center;
  int32_t t;
  __asm__ volatile(  // volatile: it stores the cell and the sum
      // The recurrent FC's four gates, added saturating to the input FC's parts: (i, f) in a0, (c, o) in a2.
      "ldm %[w]!, {r8, r9, r10, r11}\n\t"
      ".if %c[r0] && %c[r0] == %c[r1] && %c[r0] == %c[r2] && %c[r0] == %c[r3]\n\t"
      // One right shift for the four gates (the common case): the rounding constant in a register (the table's,
      // free until later), added by SMMLAR.
      "mov %[center], #(1 << (%c[r0] - 1))\n\t"
      NATIVE_GATE_REQUANT_ROUNDED("a0", "r8") NATIVE_GATE_REQUANT_ROUNDED("a1", "r9")
      NATIVE_GATE_REQUANT_ROUNDED("a2", "r10") NATIVE_GATE_REQUANT_ROUNDED("a3", "r11")
      ".else\n\t"
      NATIVE_GATE_REQUANT("a0", "r8", "r0") NATIVE_GATE_REQUANT("a1", "r9", "r1")
      NATIVE_GATE_REQUANT("a2", "r10", "r2") NATIVE_GATE_REQUANT("a3", "r11", "r3")
      ".endif\n\t"
      "pkhbt %[a0], %[a0], %[a1], lsl #16\n\t"
      "pkhbt %[a2], %[a2], %[a3], lsl #16\n\t"
      "ldrd %[a1], %[a3], [%[s]]\n\t"
      "movw %[center], #:lower16:%c[table]\n\t"
      "movt %[center], #:upper16:%c[table]\n\t"
      "qadd16 %[a0], %[a1], %[a0]\n\t"
      "qadd16 %[a2], %[a3], %[a2]\n\t"
      "ldm %[w]!, {r8, r9, r10}\n\t"
      // The cell gate (tanh), a SignedWord in a1.
      "smulbt %[t], %[a2], r8\n\t"
      "ssat %[t], #17, %[t]\n\t"
      NATIVE_TANH("a1")
      "orr %[a1], %[a1], #0x40000000\n\t"
      // Input gate x cell gate (GateProduct with the immediate 2^input_shift), in a1.
      "smulbt %[t], %[a0], r8\n\t"
      NATIVE_SIGMOID("a3")
      "smultb %[a3], %[a3], %[a1]\n\t"
      "add %[a3], %[a3], #(1 << %c[input_shift])\n\t"
      "add %[a3], %[a3], %[a1], asr #30\n\t"
      "ssat %[a1], #16, %[a3], asr #(%c[input_shift] + 1)\n\t"
      // Forget gate x cell (GateProduct, 2^14 in r10), the new cell in a1, its SignedWord in a0.
      "smultt %[t], %[a0], r8\n\t"
      NATIVE_SIGMOID("a3")
      "ldr %[a0], [%[s], #8]\n\t"
      "smlatb %[a3], %[a3], %[a0], r10\n\t"
      "add %[a3], %[a3], %[a0], asr #30\n\t"
      "ssat %[a3], #16, %[a3], asr #15\n\t"
      "add %[a1], %[a1], %[a3]\n\t"
      ".if %c[clip]\n\t"
      "movw %[t], #%c[clip]\n\t"
      "cmp %[a1], %[t]\n\t"
      "it gt\n\t"
      "movgt %[a1], %[t]\n\t"
      "cmn %[a1], %[t]\n\t"
      "it lt\n\t"
      "rsblt %[a1], %[t], #0\n\t"
      ".else\n\t"
      "ssat %[a1], #16, %[a1]\n\t"
      ".endif\n\t"
      "orr %[a0], %[a1], #0x40000000\n\t"
      // tanh(cell) (CellTanh15) in a1.
      "add %[t], %[a1], %[a1], lsl #1\n\t"
      ".if %c[tanh_shift] >= 0\n\t"
      "ssat %[t], #17, %[t], lsl #%c[tanh_shift]\n\t"
      ".else\n\t"
      "add %[t], %[t], #(1 << (-(%c[tanh_shift]) - 1))\n\t"
      "ssat %[t], #17, %[t], asr #(-(%c[tanh_shift]))\n\t"
      ".endif\n\t"
      NATIVE_TANH("a1")
      // Output gate x tanh(cell) -> the int8 hidden state in a1 (the multiplier's 2m - 2^32 from the stream).
      "smultt %[t], %[a2], r8\n\t"
      NATIVE_SIGMOID("a2")
      "smultb %[a2], %[a2], %[a1]\n\t"
      "ldr r11, [%[w]], #4\n\t"
      "smmlar %[a1], %[a2], r11, %[a2]\n\t"
      "add %[a1], %[a1], #(%c[out_rounding])\n\t"
      "sub %[a1], %[a1], %[a2], lsr #31\n\t"
      "ssat %[a1], #8, %[a1], asr #%c[out_right]\n\t"
      // The cell and the running sum of the hidden state.
      "ldr %[a3], [%[s], #12]\n\t"
      "add %[a3], %[a3], %[a1]\n\t"
      "strd %[a0], %[a3], [%[s], #8]"
      : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [t] "=&r"(t), [w] "+&r"(w),
        [center] "=&r"(center)
      : [s] "r"(&s), [table] "i"(kActivationTable + kActivationTableOffset), [r0] "i"(M.recurrent_right[0]),
        [r1] "i"(M.recurrent_right[1]), [r2] "i"(M.recurrent_right[2]), [r3] "i"(M.recurrent_right[3]),
        [input_shift] "i"(M.input_shift), [clip] "i"(M.cell_clip), [tanh_shift] "i"(M.cell_tanh_shift),
        [out_rounding] "i"(kHiddenRounding), [out_right] "i"(M.hidden_right)
      : "r8", "r9", "r10", "r11", "cc", "memory");
  return a1;
}
#undef NATIVE_GATE_REQUANT
#undef NATIVE_GATE_REQUANT_ROUNDED
#undef NATIVE_SIGMOID
#undef NATIVE_TANH
#endif

// Phase 2 of a step for one unit: its recurrent FC added (saturating) to the input FC's part, the gates (TFLM's
// CalculateLstmGate), the cell (UpdateLstmCell) and the hidden state (CalculateLstmOutput). Returns the int8
// hidden state.
template <const LstmModel& M>
NATIVE_INLINE int32_t UnitStep(const uint32_t*& w, const int16_t* h, LstmUnitState& s) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  if constexpr (M.recurrent_bias) Load4(w, a0, a1, a2, a3);
  Dot<M.h_cols, !M.recurrent_bias>(w, h, a0, a1, a2, a3);
#if NATIVE_LSTM_DSP
  return FinishUnit<M>(w, a0, a1, a2, a3, s);
#else
  uint32_t r01, r23;
  RequantizeGates<M.recurrent_right[0], M.recurrent_right[1], M.recurrent_right[2], M.recurrent_right[3]>(
      w, a0, a1, a2, a3, r01, r23);
  const StepConstants c = {w[0], static_cast<int32_t>(w[1]), static_cast<int32_t>(w[2])};
  const int32_t twice = static_cast<int32_t>(w[3]);
  w += kStepWords;
  const uint32_t k = c.gate;
  // Gate pre-activations, saturated sums of the two FCs' int16 parts: (input, forget) and (cell, output).
  const uint32_t in_forget = Qadd16(s.gates[0], r01);
  const uint32_t cell_out = Qadd16(s.gates[1], r23);
  // Q0.15 gates in the top halves; the cell gate (tanh) as an int32.
  const int32_t input_gate = Activation<9>(MulBT(in_forget, k), c.sigmoid_offset, k);
  const int32_t forget_gate = Activation<9>(MulTT(in_forget, k), c.sigmoid_offset, k);
  const int32_t output_gate = Activation<9>(MulTT(cell_out, k), c.sigmoid_offset, k);
  const int32_t cell_gate = Tanh15(MulBT(cell_out, k), k, c.tanh_offset) >> 15;
  // Cell: forget x cell + input x cell gate, each product requantized and saturated, the sum clipped (the clip,
  // <= 32767, makes an int16 saturation before it redundant) or saturated.
  const int32_t kept = GateProduct<kForgetShift>(forget_gate, s.cell, c.tanh_offset);
  const int32_t added = GateProduct<M.input_shift>(input_gate, SignedWord(cell_gate), 1 << M.input_shift);
  const int32_t cell = M.cell_clip > 0 ? Clamp(kept + added, -M.cell_clip, M.cell_clip) : SsatAsr<16>(kept + added);
  // Hidden: tanh(cell) x output gate, requantized to int8 with the hidden state's zero point (in the rounding
  // constant: 2^(r - 1) + zp * 2^r).
  const int32_t tanh_cell = CellTanh15<M.cell_tanh_shift>(cell, k, c.tanh_offset) >> 15;
  const int32_t product = MulTB(output_gate, static_cast<uint32_t>(tanh_cell));
  const int32_t high = MulHighDoubled(product, twice);
  const int32_t hidden =
      SsatAsr<8, M.hidden_right>(high + (1 << (M.hidden_right - 1)) + M.hidden_zero_point * (1 << M.hidden_right) -
                                 static_cast<int32_t>(SignBit(product)));
  s.cell = SignedWord(cell);
  s.sum += hidden;
  return hidden;
#endif
}

}  // namespace lstm_detail

// Runs the LSTM over all steps from a zero state. `output` ([steps][units] int8) may be null; `sums` ([units]
// int32, may be null) receives the sum over the steps of each hidden unit (a fused MEAN over time).
template <const LstmModel& M>
void Lstm(const int8_t* input, const LstmScratch& s, int8_t* output, int32_t* sums) {
  using namespace lstm_detail;
  LstmUnitState* const state = s.units;
  std::memset(s.x, 0, sizeof(int16_t) * M.in_cols);
  // A zero cell word is a zero cell (GateProduct: zero times any gate rounds to zero whatever its bits 30-31).
  std::memset(state, 0, sizeof(LstmUnitState) * M.units);
  // The hidden state, twice (this step's and the next): it starts at zero in its own quantization, the raw value
  // its zero point (the padding columns meet zero weights).
  int16_t* h = s.h;
  int16_t* h_next = s.h + M.h_cols;
  for (int u = 0; u < 2 * M.h_cols; ++u) s.h[u] = static_cast<int16_t>(M.hidden_zero_point);

  for (int t = 0; t < M.steps; ++t) {
    const int8_t* x = input + (M.reverse_input ? M.steps - 1 - t : t) * M.in_dim;
#pragma GCC unroll 64
    for (int k = 0; k < M.in_dim; ++k) s.x[k] = x[k];
    InputGates<M>(s.x, state);
    const uint32_t* w = M.recurrent_stream;
    for (int u = 0; u < M.units; ++u) {
      const int32_t hidden = UnitStep<M>(w, h, state[u]);
      h_next[u] = static_cast<int16_t>(hidden);
      if (output != nullptr) output[t * M.units + u] = static_cast<int8_t>(hidden);
    }
    int16_t* const swap = h;
    h = h_next;
    h_next = swap;
  }
  if (sums != nullptr) {
    for (int u = 0; u < M.units; ++u) sums[u] = state[u].sum;
  }
}

}  // namespace native
