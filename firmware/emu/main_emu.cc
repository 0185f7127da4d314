// Entry point of the emulated board (QEMU mps2-an386): the firmware's Setup()/Loop(), plus two comment lines
// after boot that say what runs and how much stack the boot (model check + self-test inferences) used.
#include <cstdint>

#include "app/app.h"
#include "core/line_writer.h"
#include "core/platform.h"

#ifndef FW_KERNELS
#error "FW_KERNELS (the TFLM kernel set, e.g. cmsis-nn) must be defined by the build"
#endif
#ifndef FW_OPT
#error "FW_OPT (the optimisation level, e.g. Os) must be defined by the build"
#endif

extern "C" uint32_t __stack_limit, __stack_top;
extern "C" const uint32_t kStackPaint;

namespace {

// Bytes of the main stack ever written: from the top down to the deepest word that lost its paint.
uint32_t StackUsedBytes() {
  const uint32_t* word = &__stack_limit;
  while (word < &__stack_top && *word == kStackPaint) ++word;
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&__stack_top) - reinterpret_cast<uintptr_t>(word));
}

void SendComment(LineWriter& writer) {
  if (writer.FinishComment()) platform::Write(writer.data(), writer.size());
}

}  // namespace

int main() {
  app::Setup();
  LineWriter writer;
  writer.Put("# platform=mps2-an386 kernels=" FW_KERNELS " opt=" FW_OPT);
  SendComment(writer);
  writer.Clear();
  const uint32_t stack_size =
      static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&__stack_top) - reinterpret_cast<uintptr_t>(&__stack_limit));
  writer.Put("# stack used=").PutUint(StackUsedBytes()).Put(" of ").PutUint(stack_size).Put(" bytes");
  SendComment(writer);
  for (;;) app::Loop();
}
