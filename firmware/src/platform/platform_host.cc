// Platform hooks for the host: stdin/stdout as the serial link (the simulator can sit behind a pseudo-terminal),
// the monotonic clock, and no LED.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "core/platform.h"
#include "platform/platform_host.h"

namespace {
std::string* g_sink = nullptr;
bool g_stdin_closed = false;
// Host "cycles" count nanoseconds, a stand-in for a cycle counter that scales with time.
using Clock = std::chrono::steady_clock;
}  // namespace

namespace platform_host {
void CaptureOutput(std::string* sink) { g_sink = sink; }
}  // namespace platform_host

namespace platform {

void Init() { std::setvbuf(stdout, nullptr, _IONBF, 0); }

int ReadByte() {
  if (g_stdin_closed) return -1;
  pollfd fd{STDIN_FILENO, POLLIN, 0};
  if (poll(&fd, 1, 0) <= 0) return -1;
  unsigned char byte = 0;
  if (read(STDIN_FILENO, &byte, 1) != 1) {
    g_stdin_closed = true;
    return -1;
  }
  return byte;
}

void Write(const char* data, size_t len) {
  if (g_sink != nullptr) {
    g_sink->append(data, len);
  } else {
    std::fwrite(data, 1, len, stdout);
  }
}

uint32_t MicrosNow() {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

uint32_t CyclesNow() {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

void SetLed(bool) {}

}  // namespace platform

namespace platform_host {
bool StdinClosed() { return g_stdin_closed; }
}  // namespace platform_host
