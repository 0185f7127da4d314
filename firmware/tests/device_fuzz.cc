// libFuzzer target: any byte sequence into the device core (reference configuration, fake inference).
// Properties checked besides ASan/UBSan: every device line is short enough and well formed, and after any
// input a terminating '\n' plus HELLO is answered with OK HELLO (the parser always resynchronizes).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/crc16.h"
#include "core/device.h"
#include "platform/platform_host.h"
#include "tests/reference_config.h"

namespace {

// Stream mode would print one line per idle step; a few idle steps per input exercise it without slowing down.
constexpr int kIdleSteps = 2;

bool CheckLine(const std::string& line) {
  if (line.size() > proto::kMaxLine) return false;
  if (line.compare(0, 2, proto::kCommentPrefix) == 0) return true;
  // " *XXXX" with the CRC of the body.
  if (line.size() < 6 || line.compare(line.size() - 6, 2, proto::kCrcSeparator) != 0) return false;
  char crc[5];
  std::snprintf(crc, sizeof(crc), "%04X", crc16::Compute(line.data(), line.size() - 6));
  return line.compare(line.size() - 4, 4, crc) == 0;
}

void CheckOutput(const std::string& output) {
  size_t start = 0;
  while (start < output.size()) {
    const size_t end = output.find('\n', start);
    if (end == std::string::npos || !CheckLine(output.substr(start, end - start))) __builtin_trap();
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const DeviceConfig config = reference::Config();
  static int8_t input[reference::kInputBytes];
  static int16_t audio[reference::kAudioSamples];
  std::string output;
  platform_host::CaptureOutput(&output);
  Device device(config, input, audio);
  for (size_t i = 0; i < size; ++i) {
    device.HandleByte(data[i]);
    if (data[i] == '\n') {
      for (int step = 0; step < kIdleSteps; ++step) device.Idle();
    }
  }
  CheckOutput(output);
  output.clear();
  for (const char c : std::string("\nHELLO\n")) device.HandleByte(static_cast<uint8_t>(c));
  CheckOutput(output);
  const size_t last = output.rfind("OK HELLO ");
  if (last == std::string::npos || output.find('\n', last) != output.size() - 1) __builtin_trap();
  platform_host::CaptureOutput(nullptr);
  return 0;
}
