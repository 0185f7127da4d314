#include "core/line_writer.h"

#include "core/crc16.h"

namespace {
constexpr char kHexDigits[] = "0123456789ABCDEF";
// Longest decimal uint32_t ("4294967295").
constexpr size_t kMaxDecimalDigits = 10;
}  // namespace

LineWriter& LineWriter::Put(char c) {
  if (length_ < proto::kMaxLine) {
    buffer_[length_++] = c;
  } else {
    overflowed_ = true;
  }
  return *this;
}

LineWriter& LineWriter::Put(const char* text, size_t len) {
  for (size_t i = 0; i < len; ++i) Put(text[i]);
  return *this;
}

LineWriter& LineWriter::Put(const char* text) {
  while (*text != '\0') Put(*text++);
  return *this;
}

LineWriter& LineWriter::PutUint(uint32_t value) {
  char digits[kMaxDecimalDigits];
  size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) Put(digits[--count]);
  return *this;
}

LineWriter& LineWriter::PutInt(int32_t value) {
  if (value < 0) {
    Put('-');
    // Negate in unsigned arithmetic so INT32_MIN does not overflow.
    return PutUint(0u - static_cast<uint32_t>(value));
  }
  return PutUint(static_cast<uint32_t>(value));
}

LineWriter& LineWriter::PutHex32(uint32_t value) {
  for (int shift = 28; shift >= 0; shift -= 4) Put(kHexDigits[(value >> shift) & 0xF]);
  return *this;
}

LineWriter& LineWriter::PutHexBytes(const int8_t* bytes, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const uint8_t value = static_cast<uint8_t>(bytes[i]);
    Put(kHexDigits[value >> 4]).Put(kHexDigits[value & 0xF]);
  }
  return *this;
}

bool LineWriter::FinishWithCrc() {
  const uint16_t crc = crc16::Compute(buffer_, length_);
  Put(proto::kCrcSeparator);
  for (int shift = 12; shift >= 0; shift -= 4) Put(kHexDigits[(crc >> shift) & 0xF]);
  buffer_[length_++] = '\n';  // the reserved extra byte
  return !overflowed_;
}

bool LineWriter::FinishComment() {
  buffer_[length_++] = '\n';
  return !overflowed_;
}

void LineWriter::Clear() {
  length_ = 0;
  overflowed_ = false;
}
