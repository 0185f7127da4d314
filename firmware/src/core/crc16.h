// CRC-16/CCITT-FALSE, the checksum of every protocol line (see PROTOCOL.md, "Checksum").
#pragma once

#include <cstddef>
#include <cstdint>

namespace crc16 {

// Initial value of CRC-16/CCITT-FALSE; feed it to the first Update().
constexpr uint16_t kInit = 0xFFFF;

// Extends `crc` over `len` bytes, so a line can be checksummed in pieces.
uint16_t Update(uint16_t crc, const uint8_t* data, size_t len);

// CRC of one whole buffer.
inline uint16_t Compute(const void* data, size_t len) {
  return Update(kInit, static_cast<const uint8_t*>(data), len);
}

}  // namespace crc16
