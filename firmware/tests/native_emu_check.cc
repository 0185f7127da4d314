// The native engine's Cortex-M4 path (SMLAD, SMMULR, SSAT, ... in native/lstm.h) on many clips: a bare-metal image
// for QEMU mps2-an386 that reads int8 clips from the host file clips.bin and writes the generated model's scores
// to scores.bin, both in QEMU's working directory, through Arm semihosting (QEMU -semihosting). The host build of
// the engine takes the portable path; this image is how tests/test_native.py compares the board's arithmetic with
// the pinned TFLM on thousands of random and extreme clips (make native-emu-check).
#include <cstddef>
#include <cstdint>

#include "generated/native_model.h"

namespace {

// Semihosting operations (Arm "Semihosting for AArch32 and AArch64", section 6).
constexpr uint32_t kSysOpen = 0x01;
constexpr uint32_t kSysClose = 0x02;
constexpr uint32_t kSysWrite = 0x05;
constexpr uint32_t kSysRead = 0x06;
constexpr uint32_t kSysExit = 0x18;
constexpr uint32_t kModeRb = 1;  // SYS_OPEN's "rb"
constexpr uint32_t kModeWb = 5;  // "wb"
constexpr uint32_t kApplicationExit = 0x20026;  // ADP_Stopped_ApplicationExit
constexpr uint32_t kRunTimeErrorUnknown = 0x20023;  // ADP_Stopped_RunTimeErrorUnknown

uint32_t Semihost(uint32_t op, const void* args) {
  register uint32_t r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = args;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

int32_t Open(const char* name, uint32_t length, uint32_t mode) {
  const uint32_t args[3] = {reinterpret_cast<uint32_t>(name), mode, length};
  return static_cast<int32_t>(Semihost(kSysOpen, args));
}

[[noreturn]] void Exit(uint32_t reason) {
  Semihost(kSysExit, reinterpret_cast<const void*>(reason));  // AArch32: the reason itself, not a block
  for (;;) {
  }
}

int8_t g_clip[native_model::kInputBytes];
int8_t g_scores[native_model::kOutputBytes];

}  // namespace

// startup.c's vector table names it; nothing here uses the timer.
extern "C" void SysTick_Handler() {}

int main() {
  static const char kClips[] = "clips.bin";
  static const char kScores[] = "scores.bin";
  const int32_t in = Open(kClips, sizeof(kClips) - 1, kModeRb);
  const int32_t out = Open(kScores, sizeof(kScores) - 1, kModeWb);
  if (in < 0 || out < 0) Exit(kRunTimeErrorUnknown);
  for (;;) {
    // SYS_READ returns the number of bytes NOT read: 0 for a whole clip, the request at the end of the file.
    const uint32_t read_args[3] = {static_cast<uint32_t>(in), reinterpret_cast<uint32_t>(g_clip), sizeof(g_clip)};
    const uint32_t missing = Semihost(kSysRead, read_args);
    if (missing == sizeof(g_clip)) break;
    if (missing != 0) Exit(kRunTimeErrorUnknown);  // a partial clip: the file is not a whole number of clips
    native_model::Invoke(g_clip, g_scores);
    const uint32_t write_args[3] = {static_cast<uint32_t>(out), reinterpret_cast<uint32_t>(g_scores),
                                    sizeof(g_scores)};
    if (Semihost(kSysWrite, write_args) != 0) Exit(kRunTimeErrorUnknown);
  }
  const uint32_t close_in[1] = {static_cast<uint32_t>(in)};
  const uint32_t close_out[1] = {static_cast<uint32_t>(out)};
  Semihost(kSysClose, close_in);
  Semihost(kSysClose, close_out);
  Exit(kApplicationExit);
}
