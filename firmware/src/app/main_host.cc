// Host simulator: the firmware with the reference fake inference on stdin/stdout, for trying the host harness
// without a board (e.g. behind a pseudo-terminal: socat PTY,link=/tmp/nano,raw EXEC:build/firmware/sim).
#include <unistd.h>

#include "app/app.h"
#include "platform/platform_host.h"

namespace {
// Sleep between idle polls so the simulator does not spin a core.
constexpr useconds_t kIdlePollMicros = 1000;
}  // namespace

int main() {
  app::Setup();
  while (!platform_host::StdinClosed()) {
    app::Loop();
    usleep(kIdlePollMicros);
  }
  return 0;
}
