// Host-only extras of platform_host.cc: tests capture what the core writes instead of sending it to stdout.
#pragma once

#include <string>

namespace platform_host {

// While `sink` is set, platform::Write appends to it; nullptr restores stdout.
void CaptureOutput(std::string* sink);

// True once stdin reached end of file: the simulator then exits.
bool StdinClosed();

}  // namespace platform_host
