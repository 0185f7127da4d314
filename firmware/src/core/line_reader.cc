#include "core/line_reader.h"

LineEvent LineReader::Feed(uint8_t byte) {
  if (complete_) {
    // The previous line has been handed out; start a new one.
    complete_ = false;
    length_ = 0;
  }
  if (byte == '\r') return LineEvent::kNone;
  if (byte == '\n') {
    if (overflowed_) {
      overflowed_ = false;
      length_ = 0;
      return LineEvent::kTooLong;
    }
    complete_ = true;
    return length_ == 0 ? LineEvent::kEmpty : LineEvent::kLine;
  }
  if (overflowed_) return LineEvent::kNone;
  if (length_ == sizeof(buffer_)) {
    // Drop everything up to the next '\n', then answer once.
    overflowed_ = true;
    return LineEvent::kNone;
  }
  buffer_[length_++] = static_cast<char>(byte);
  return LineEvent::kNone;
}
