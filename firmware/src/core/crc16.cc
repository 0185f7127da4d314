#include "core/crc16.h"

namespace crc16 {

namespace {
constexpr uint16_t kPolynomial = 0x1021;
constexpr uint16_t kTopBit = 0x8000;
}  // namespace

// Bitwise rather than table-driven: 512 bytes of table are not worth it for lines of a few hundred bytes.
uint16_t Update(uint16_t crc, const uint8_t* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    crc = static_cast<uint16_t>(crc ^ (static_cast<uint16_t>(data[i]) << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & kTopBit) ? static_cast<uint16_t>((crc << 1) ^ kPolynomial) : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

}  // namespace crc16
