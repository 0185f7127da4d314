// TFLM's platform hooks written on top of core/platform.h: DebugLog (MicroPrintf) to the serial link as protocol
// comment lines ("# tflm: …", so the host ignores them), micro_time from the µs clock. Replaces TFLM's
// cortex_m_generic/{debug_log,micro_time}.cc, which need a CMSIS device header and a callback.
#include <cstdarg>
#include <cstdio>

#include "core/platform.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_time.h"

namespace {
// MicroPrintf lines longer than this are cut (they still end the line).
constexpr int kMaxLogLen = 256;
constexpr char kLogPrefix[] = "# tflm: ";
bool g_at_line_start = true;
}  // namespace

extern "C" void DebugLog(const char* format, va_list args) {
  char buffer[kMaxLogLen];
  const int len = vsnprintf(buffer, sizeof(buffer), format, args);
  const int end = len < 0 ? 0 : (len < kMaxLogLen ? len : kMaxLogLen - 1);
  for (int i = 0; i < end; ++i) {
    const char c = buffer[i];
    if (c == '\r') continue;  // MicroPrintf ends lines with "\r\n"; the protocol uses "\n"
    if (g_at_line_start) platform::Write(kLogPrefix, sizeof(kLogPrefix) - 1);
    platform::Write(&c, 1);
    g_at_line_start = c == '\n';
  }
}

extern "C" int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, va_list vlist) {
  return vsnprintf(buffer, buf_size, format, vlist);
}

namespace tflite {
uint32_t ticks_per_second() { return 1000000u; }
uint32_t GetCurrentTimeTicks() { return platform::MicrosNow(); }
}  // namespace tflite
