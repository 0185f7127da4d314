// The native engine's kernel library: the integer arithmetic of TFLM's int8 kernels (revision 90b983c2, reference
// and CMSIS-NN agree on it) for the operators our models use, written for one model compiled to C by
// quantize/native.py. Every constant a kernel needs (multipliers, shifts, zero points, folded biases, LUTs) is
// computed by the generator exactly as TFLM's Prepare computes it; the kernels only run. Portable C++ with a
// Cortex-M4 DSP path (ACLE intrinsics) for the dot products; both give the same integers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace native {

// ---- fixed-point primitives (gemmlowp's / TFLite's, double rounding) ----------------------------------------
// round(a * b / 2^31) with gemmlowp's rounding, saturating the one overflow case.
inline int32_t RoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  // gemmlowp adds 2^30 (or 1 - 2^30 for a negative product) and divides truncating toward zero: for integers
  // that is floor((ab + 2^30) / 2^31) in both cases, one arithmetic shift.
  return static_cast<int32_t>((static_cast<int64_t>(a) * b + (INT64_C(1) << 30)) >> 31);
}

// x / 2^exponent rounded half away from zero (gemmlowp's RoundingDivideByPOT), 0 <= exponent <= 31.
inline int32_t RoundingDivideByPot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((INT64_C(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// TFLite's MultiplyByQuantizedMultiplier (32-bit, double rounding): x * multiplier * 2^shift.
inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  // The left shift wraps like TFLM's `x * (1 << left)` does on the targets (two's complement).
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left);
  return RoundingDivideByPot(RoundingDoublingHighMul(shifted, multiplier), right);
}

inline int32_t Clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

// A requantization: multiplier (Q31) and shift (positive: left).
struct Requant {
  int32_t multiplier;
  int32_t shift;
};

// ---- UNIDIRECTIONAL_SEQUENCE_LSTM: int8 input/hidden, int8 weights, int16 cell, batch 1, tanh cell activation, no
// peephole, projection or layer norm. Gates in the order input, forget, cell, output. The generator emits one constexpr
// LstmModel per LSTM and runs it through native/lstm.h.
constexpr int kNumGates = 4;

struct LstmModel {
  int steps;       // time steps
  int in_dim;      // input features per step
  int in_cols;     // in_dim rounded up to a multiple of 2 (the padding column has zero weights)
  int units;       // hidden units
  int h_cols;      // units rounded up to a multiple of 2: the recurrent FC's columns (padding: zero weights)
  bool reverse_input;  // read the input from the last step to the first (a fused REVERSE_V2 on the time axis)
  // Each FC as one stream of 32-bit words, a block per unit u holding its four gate rows (i, f, c, o):
  //   [4 int32 biases] (the input FC always; the recurrent FC only when recurrent_bias)
  //   the four rows' int16 weights: per four columns 4j..4j + 3, two words per row (columns 4j, 4j + 1 in bits
  //     0-15, 16-31, then 4j + 2, 4j + 3), rows in order; a last pair of columns as one word per row
  //   [4 int32 Q31 multipliers]
  // so one pointer streams through a step with LDM: the weights of two rows, the biases, the multipliers. Biases
  // hold the zero-point terms (bias - zp * sum(row)); weights and biases the FC's left shift.
  const uint32_t* input_stream;
  const uint32_t* recurrent_stream;
  bool recurrent_bias;  // the recurrent FC's bias (-hidden_zp * sum(row)) is not zero
  // The gate FCs' requantizations (input FC, recurrent FC -> Q3.12 gate input): their left shifts (with
  // RoundingDoublingHighMul's doubling) are in the int16 weights and biases, their multipliers in the streams;
  // what is left is each gate's rounding right shift.
  int32_t input_right[kNumGates];
  int32_t recurrent_right[kNumGates];
  // The input gate x cell gate product's right shift: its multiplier is 2^30 (its scale 2^-30 / cell scale is a
  // power of two; the generator checks). The forget gate x cell's is always 2^-15 (native/lstm.h).
  int32_t input_shift;
  // tanh(cell) x output gate -> hidden: its right shift (> 0; the multiplier, doubled, is in the recurrent stream).
  int32_t hidden_right;
  int32_t hidden_zero_point;
  int32_t cell_tanh_shift;  // tanh(cell)'s input scaling 3 << shift, or 3 >> -shift (the cell scale 2^(shift - 12))
  int16_t cell_clip;                // 0: no clipping
};

// An LSTM unit's state between steps: its four gates' input FC parts (int16 pairs: input and forget gate, cell
// and output gate), its cell, the sum of its hidden state over the steps.
struct LstmUnitState {
  uint32_t gates[2];
  uint32_t cell;  // the int16 cell as a SignedWord (native/lstm.h)
  int32_t sum;
};

// Working memory of one LSTM run, sized for the largest LSTM of the model (the generator allocates it; the int16
// arrays word-aligned: they are read in pairs).
struct LstmScratch {
  int16_t* x;            // [in_cols] one input step widened to int16
  int16_t* h;            // [2][h_cols] the hidden state widened to int16: this step's and the next
  LstmUnitState* units;  // [units]
};

// The LSTM itself: native/lstm.h (a template on the constexpr LstmModel).

// ---- MEAN over one axis, from per-output sums: out = requant(sum - count * input_zp) + output_zp. The
// requantization is TFLM's multiplier with 1/count folded in, prepared for the sums' range (|x| <= 255 * count,
// the generator checks that x << left and the rounding cannot overflow): one high multiply (native/lstm.h).
struct MeanModel {
  int count;  // elements summed per output
  int32_t input_zero_point;
  int32_t multiplier;
  int32_t left;   // max(shift, 0) + 1 (the doubling of RoundingDoublingHighMul)
  int32_t right;  // max(-shift, 0)
  int32_t output_zero_point;
};
void MeanFromSums(const MeanModel& model, const int32_t* sums, int n, int8_t* output);
// Sums over the middle axis of [outer][count][inner] int8.
void SumAxis(const int8_t* input, int outer, int count, int inner, int32_t* sums);

// ---- FULLY_CONNECTED, int8, per-tensor or per-channel (one Requant per output when per_channel).
struct FullyConnectedModel {
  int in_dim;
  int out_dim;
  const int8_t* weights;  // [out_dim][in_dim]
  const int32_t* bias;    // zero-point term folded in: bias - input_zp * sum(row)
  const Requant* requant;  // [out_dim], or [1]
  bool per_channel;
  int32_t output_zero_point;
  int32_t act_min;
  int32_t act_max;
};
void FullyConnected(const FullyConnectedModel& model, const int8_t* input, int batches, int8_t* output);

// ---- SOFTMAX int8 -> int8 (output scale 1/256, zero point -128).
struct SoftmaxModel {
  int depth;
  int32_t input_multiplier;
  int32_t input_left_shift;
  int32_t diff_min;
  int32_t* exps;  // [depth] working memory: each exponential is computed once, for the sum and the output
};
void Softmax(const SoftmaxModel& model, const int8_t* input, int outer, int8_t* output);

// ---- data movement
// REVERSE_V2 over the middle axis of [outer][count][inner].
void Reverse(const int8_t* input, int outer, int count, int inner, int8_t* output);
// CONCATENATION: `num` inputs of [outer][inner_i] into [outer][sum inner_i].
void Concatenate(const int8_t* const* inputs, const int* inners, int num, int outer, int8_t* output);

// TFLM's int16 sigmoid/tanh table T (sigmoid(i / 24) in 0.16 fixed point, i = 0..255; T[256] = T[255] = 65535)
// made odd-symmetric for interpolating signed inputs: S(j) = T[j] - 32768 for j >= 0, 32768 - T[-j] for j < 0,
// dS(j) = S(j + 1) - S(j) (0..683). Entry j + 256 (j = -256..255) holds -S'(j) in bits 0-15 and dS(j) in bits
// 16-31, where S'(j) = S(j) for even j and S(j + 1) for odd j: one load and one dual multiply-accumulate
// interpolate (native/lstm.h, Activation), with no absolute value, no saturation branch and no masking of the
// fraction. Defined by the generated model (quantize/native.py derives it from TFLM's table).
constexpr int kActivationTableOffset = 256;
extern const uint32_t kActivationTable[512];

// The int16 sigmoid of TFLM's LSTM gates (reference_integer_ops::Logistic; kernels_test.cc checks every input,
// and native/lstm.h's CellTanh15 for every cell scale).
int16_t Sigmoid16(int16_t x);

}  // namespace native
