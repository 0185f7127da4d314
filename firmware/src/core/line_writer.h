// Result formatting: builds one outgoing line in a fixed buffer, with integers and float bit patterns
// formatted by hand (no printf, so no float formatting is ever linked on the device).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/protocol.h"

class LineWriter {
 public:
  LineWriter& Put(const char* text);
  LineWriter& Put(const char* text, size_t len);
  LineWriter& Put(char c);
  LineWriter& PutUint(uint32_t value);
  LineWriter& PutInt(int32_t value);
  // 8 uppercase hex digits, the wire form of a float32 bit pattern.
  LineWriter& PutHex32(uint32_t value);
  // Two uppercase hex digits per byte, two's complement (-1 -> "FF"): the wire form of int8 data.
  LineWriter& PutHexBytes(const int8_t* bytes, size_t count);

  // Ends a protocol line with " *CRC\n". The result is valid until the next Put; false if it overflowed.
  bool FinishWithCrc();
  // Ends a human line ("# ...") with '\n'.
  bool FinishComment();

  const char* data() const { return buffer_; }
  size_t size() const { return length_; }
  void Clear();

 private:
  // A device line obeys proto::kMaxLine like a host line; one more byte holds the '\n'.
  char buffer_[proto::kMaxLine + 1];
  size_t length_ = 0;
  bool overflowed_ = false;
};
