// Entry point of the continuous listener on the emulated board (QEMU mps2-an386): the mock audio provider plays a
// clip that QEMU's generic loader put into the board's 16 MB PSRAM before reset (outside the 256 KB the linker
// script gives the firmware), so a new recording needs no rebuild:
//   qemu-system-arm -M mps2-an386 ... -kernel listen.elf -device loader,file=clip.bin,addr=0x21000000,force-raw=on
// clip.bin: the magic "CLIP", the sample count (uint32, little-endian), then the 16 kHz mono int16 samples
// (host/emulator.py writes it). The listener prints the "# heard ..." lines of the host simulator
// (main_listen_host.cc), then "# played <ms> ms", and halts. After every evaluated window it also prints what the
// hop cost (host/emulator.py separates these lines from the listener's):
//   # hop <n> at <ms> instructions=<all of Loop() since the last window> frontend=<..> inference=<..>
//     spectra=<frame spectra computed> features=<CRC-16 of the model's input, 4 hex digits>
// Under QEMU -icount shift=0 the cycle counter counts instructions (platform_mps2.cc); "all of Loop()" is the
// hop's whole work: the mock provider's copying into the ring (the PDM interrupt's on the board), the window copy,
// front end, inference, recognition and its report.
#include <cstdint>

#include "app/generated_model.h"
#include "core/crc16.h"
#include "core/line_writer.h"
#include "core/platform.h"
#include "listen/audio_provider.h"
#include "listen/audio_provider_mock.h"
#include "listen/listen.h"

namespace {

// QEMU's MPS2 AN385/AN386 PSRAM ("mps.ram"): 16 MB at 0x21000000, not used by the image.
constexpr uintptr_t kClipBase = 0x21000000u;
constexpr uint32_t kClipRegionBytes = 16u * 1024u * 1024u;
constexpr uint32_t kClipMagic = 0x50494C43u;  // "CLIP" read as a little-endian word
constexpr uint32_t kHeaderBytes = 8;
constexpr uint32_t kMaxSamples = (kClipRegionBytes - kHeaderBytes) / sizeof(int16_t);

void SendComment(LineWriter& writer) {
  if (writer.FinishComment()) platform::Write(writer.data(), writer.size());
}

void ReportHop(const listen::Hop& hop, uint32_t instructions) {
  LineWriter writer;
  writer.Put("# hop ").PutUint(hop.count).Put(" at ").PutUint(hop.end_ms).Put(" instructions=").PutUint(instructions)
      .Put(" frontend=").PutUint(hop.frontend_cycles).Put(" inference=").PutUint(hop.inference_cycles)
      .Put(" spectra=").PutUint(static_cast<uint32_t>(hop.spectra)).Put(" features=");
  const uint16_t crc = crc16::Compute(hop.features, kInputBytes);
  const int8_t crc_bytes[] = {static_cast<int8_t>(crc >> 8), static_cast<int8_t>(crc & 0xFF)};
  writer.PutHexBytes(crc_bytes, 2);
  SendComment(writer);
}

}  // namespace

int main() {
  const volatile uint32_t* header = reinterpret_cast<const volatile uint32_t*>(kClipBase);
  const uint32_t count = header[1];
  if (header[0] != kClipMagic || count > kMaxSamples) {
    platform::Init();
    LineWriter writer;
    writer.Put("# fatal: no clip at 0x21000000 (load one with -device loader,file=<clip>,addr=0x21000000)");
    SendComment(writer);
    for (;;) {
    }
  }
  audio_provider_mock::SetClip(reinterpret_cast<const int16_t*>(kClipBase + kHeaderBytes), count);
  if (listen::Setup()) {
    uint32_t reported = 0, instructions = 0;
    for (bool more = true; more;) {
      const uint32_t start = platform::CyclesNow();
      more = listen::Loop();
      instructions += platform::CyclesNow() - start;
      const listen::Hop& hop = listen::LastHop();
      if (hop.count != reported) {
        ReportHop(hop, instructions);
        reported = hop.count;
        instructions = 0;
      }
    }
    LineWriter writer;
    writer.Put("# played ").PutUint(static_cast<uint32_t>(static_cast<uint64_t>(count) * 1000 /
                                                           audio_provider::kSampleRate)).Put(" ms");
    SendComment(writer);
  }
  for (;;) {
  }
}
