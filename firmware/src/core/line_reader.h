// Framing: splits the received byte stream into lines (PROTOCOL.md, "Transport").
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/protocol.h"

// What one received byte completed.
enum class LineEvent {
  kNone,     // the line goes on
  kLine,     // a complete, non-empty line is in line()/length()
  kEmpty,    // a line with nothing but '\r': ignored without reply
  kTooLong,  // a line longer than proto::kMaxLine ended; its bytes are gone
};

class LineReader {
 public:
  // Feeds one byte. '\r' is dropped wherever it appears; '\n' ends the line.
  LineEvent Feed(uint8_t byte);

  // The last complete line, valid until the next Feed(); not NUL-terminated (it may contain NUL bytes).
  const char* line() const { return buffer_; }
  size_t length() const { return length_; }

  // True while part of a line has been received.
  bool InLine() const { return length_ > 0 || overflowed_; }

 private:
  char buffer_[proto::kMaxLine];
  size_t length_ = 0;
  bool overflowed_ = false;
  bool complete_ = false;
};
