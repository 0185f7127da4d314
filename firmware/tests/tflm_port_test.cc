// Host test of the board's TFLM port (src/platform/tflm_port_arduino.cc) against a stand-in Arduino.h: its printf
// subset must format TFLM's messages as the C library does, and its log lines must reach Serial as protocol
// comments. Built and run by tests/test_board_build.py.
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "Arduino.h"
#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_time.h"

StubSerial Serial;
unsigned long micros() { return 1234567; }

namespace {

int failures = 0;

// Formats with the port and with vsnprintf into a buffer of `size` bytes; both results must agree.
void Expect(size_t size, const char* format, ...) {
  char mine[64], libc[64];
  std::memset(mine, 'X', sizeof(mine));
  std::memset(libc, 'X', sizeof(libc));
  va_list a, b;
  va_start(a, format);
  va_copy(b, a);
  const int n_mine = DebugVsnprintf(mine, size, format, a);
  const int n_libc = std::vsnprintf(libc, size, format, b);
  va_end(b);
  va_end(a);
  if (n_mine != n_libc || std::memcmp(mine, libc, sizeof(mine)) != 0) {
    std::printf("FAIL %s: port \"%.*s\" (%d), libc \"%.*s\" (%d)\n", format, static_cast<int>(size ? size - 1 : 0),
                mine, n_mine, static_cast<int>(size ? size - 1 : 0), libc, n_libc);
    ++failures;
  }
}

void Log(const char* format, ...) {
  va_list args;
  va_start(args, format);
  DebugLog(format, args);
  va_end(args);
}

}  // namespace

int main() {
  Expect(64, "Didn't find op for builtin opcode '%s' version '%d'", "REVERSE_V2", 1);
  Expect(64, "%d %i %u %x %X %c %%", -42, 7, 4000000000u, 0xbeefu, 0xbeefu, 'z');
  Expect(64, "[%4d] [%08X] [%02X] [%-3d]", 12, 0xabcu, 5u, 7);
  Expect(64, "%ld %lu %lld %llu %zu", -5L, 6UL, -123456789012LL, 18446744073709551615ULL, static_cast<size_t>(99));
  Expect(64, "%f %.2f %.0f", 1.5, -0.125, 2.5);
  Expect(8, "truncated %s here", "right");  // vsnprintf's contract: full length returned, buffer terminated
  Expect(1, "%d", 12345);
  Expect(0, "%d", 12345);

  Serial.written.clear();
  Log("Arena %d bytes", 10308);
  Log("\r\n");
  Log("second");
  Log("\r\n");
  if (Serial.written != "# Arena 10308 bytes\n# second\n") {
    std::printf("FAIL DebugLog wrote \"%s\"\n", Serial.written.c_str());
    ++failures;
  }
  if (tflite::ticks_per_second() != 1000000u || tflite::GetCurrentTimeTicks() != 1234567u) {
    std::printf("FAIL micro_time\n");
    ++failures;
  }
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
