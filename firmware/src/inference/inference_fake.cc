// The protocol's reference fake inference (PROTOCOL.md, "Golden vectors"): a deterministic test double so the
// core's replies can be checked byte for byte without a model. Never linked into the board firmware.
#include "core/inference.h"

namespace inference {

namespace {
// Fixed latency of the reference fake, as PROTOCOL.md defines it.
constexpr uint32_t kFakeMicros = 1000;
constexpr uint32_t kFakeCycles = 64000;
// A clip of nothing but this byte makes the fake fail, so the golden vectors can cover ERR invoke.
constexpr int8_t kFailByte = -128;
// Score i adds this step to the input sum, so that scores differ and the top index moves with the input.
constexpr uint32_t kScoreStep = 7;
}  // namespace

const char* EngineName() { return "fake"; }

const char* Init() { return nullptr; }

uint32_t ArenaUsedBytes() { return 0; }

bool Run(const int8_t* input, size_t input_len, int8_t* scores, size_t num_scores, Timing* timing) {
  uint32_t sum = 0;
  bool all_fail_bytes = input_len > 0;
  for (size_t i = 0; i < input_len; ++i) {
    sum += static_cast<uint8_t>(input[i]);
    all_fail_bytes = all_fail_bytes && input[i] == kFailByte;
  }
  if (all_fail_bytes) return false;
  for (size_t i = 0; i < num_scores; ++i) {
    scores[i] = static_cast<int8_t>(static_cast<uint8_t>((sum + kScoreStep * i) & 0xFF));
  }
  timing->micros = kFakeMicros;
  timing->cycles = kFakeCycles;
  return true;
}

}  // namespace inference
