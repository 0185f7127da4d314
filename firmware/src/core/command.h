// Parsing: turns one received line into a command or an error (PROTOCOL.md, "Checksum" and "Messages").
// Stateless; whatever depends on the device's state (LOAD order and range) is checked by the dispatcher.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/protocol.h"

enum class CommandKind { kHello, kLoad, kInfer, kSelftest, kStream, kStop, kAudio, kHear, kFeatures };

struct Command {
  CommandKind kind = CommandKind::kHello;
  // LOAD, AUDIO and FEATURES: the offset (saturated at UINT32_MAX, which no input reaches). LOAD and AUDIO: the
  // payload's hex digits, already checked to be an even number >= 2 of hex digits; they point into the line.
  uint32_t offset = 0;
  const char* hex = nullptr;
  size_t hex_len = 0;
};

struct ParseResult {
  proto::Error error = proto::Error::kNone;
  Command command;
};

// Parses a line (without '\n' and '\r'; may contain any byte, including NUL).
ParseResult ParseCommand(const char* line, size_t len);

// Value of one hex digit in either case, or -1.
int HexDigitValue(char c);
