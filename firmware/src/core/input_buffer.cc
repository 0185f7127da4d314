#include "core/input_buffer.h"

#include "core/command.h"

LoadResult InputBuffer::Load(uint32_t offset, const char* hex, size_t hex_len) {
  LoadResult result;
  if (offset != 0 && offset != filled_) {
    result.error = proto::Error::kOrder;
    result.value = filled_;
    return result;
  }
  const size_t start = offset;  // 0 or filled_, both <= capacity_
  const size_t room = capacity_ - start;
  const size_t max_bytes = room < proto::kMaxChunk ? room : proto::kMaxChunk;
  const size_t bytes = hex_len / 2;
  if (bytes > max_bytes) {
    result.error = proto::Error::kRange;
    result.value = max_bytes;
    return result;
  }
  for (size_t i = 0; i < bytes; ++i) {
    const int high = HexDigitValue(hex[2 * i]);
    const int low = HexDigitValue(hex[2 * i + 1]);
    storage_[start + i] = static_cast<int8_t>(static_cast<uint8_t>((high << 4) | low));
  }
  filled_ = start + bytes;
  result.value = filled_;
  return result;
}
