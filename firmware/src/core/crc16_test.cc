#include "core/crc16.h"

#include "tests/micro_test.h"

TEST(Crc16CheckValue) {
  // The catalogue check value of CRC-16/CCITT-FALSE.
  EXPECT_EQ(crc16::Compute("123456789", 9), 0x29B1);
}

TEST(Crc16ProtocolExample) {
  // The example of PROTOCOL.md, "Checksum".
  EXPECT_EQ(crc16::Compute("HELLO", 5), 0x49D6);
}

TEST(Crc16EmptyIsInit) { EXPECT_EQ(crc16::Compute("", 0), crc16::kInit); }

TEST(Crc16Incremental) {
  const uint8_t* text = reinterpret_cast<const uint8_t*>("123456789");
  EXPECT_EQ(crc16::Update(crc16::Update(crc16::kInit, text, 4), text + 4, 5), 0x29B1);
}
