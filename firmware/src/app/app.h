// The application: wires the generated model settings, the inference runtime and the platform to the core.
#pragma once

namespace app {

// Once after reset: opens the serial link, checks the model, sends BOOT and the self-test result.
void Setup();

// Forever: handles received bytes, streams predictions when idle.
void Loop();

}  // namespace app
