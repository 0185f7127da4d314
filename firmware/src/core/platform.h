// Platform hooks: everything the portable core needs from the hardware. Exactly one implementation is
// linked: platform_arduino.cc on the board, platform_host.cc on the host (tests, fuzzer, simulator).
#pragma once

#include <cstddef>
#include <cstdint>

namespace platform {

// Opens the serial link and starts the clocks.
void Init();

// Next received byte, or -1 when none is waiting. Never blocks.
int ReadByte();

// Sends bytes; blocks until they are queued.
void Write(const char* data, size_t len);

// Free-running microsecond clock (wraps; differences of two readings are valid across one wrap).
uint32_t MicrosNow();

// Free-running CPU cycle counter (wraps like MicrosNow).
uint32_t CyclesNow();

// The board's status LED: on while an inference runs.
void SetLed(bool on);

}  // namespace platform
