#include "core/input_buffer.h"

#include <string>

#include "tests/micro_test.h"

TEST(InputBufferLoadsInOrder) {
  int8_t storage[4] = {};
  InputBuffer buffer(storage, sizeof(storage));
  EXPECT_EQ(buffer.Load(0, "FF01", 4).value, 2u);
  EXPECT_EQ(buffer.Load(2, "807F", 4).value, 4u);
  EXPECT_TRUE(buffer.Complete());
  EXPECT_EQ(storage[0], -1);
  EXPECT_EQ(storage[1], 1);
  EXPECT_EQ(storage[2], -128);
  EXPECT_EQ(storage[3], 127);
}

TEST(InputBufferLowerCaseHex) {
  int8_t storage[1] = {};
  InputBuffer buffer(storage, sizeof(storage));
  buffer.Load(0, "ab", 2);
  EXPECT_EQ(storage[0], static_cast<int8_t>(0xAB));
}

TEST(InputBufferOrderError) {
  int8_t storage[4] = {};
  InputBuffer buffer(storage, sizeof(storage));
  buffer.Load(0, "00", 2);
  const LoadResult result = buffer.Load(2, "00", 2);
  EXPECT_TRUE(result.error == proto::Error::kOrder);
  EXPECT_EQ(result.value, 1u);
  EXPECT_EQ(buffer.filled(), 1u);
}

TEST(InputBufferOffsetZeroRestarts) {
  int8_t storage[4] = {};
  InputBuffer buffer(storage, sizeof(storage));
  buffer.Load(0, "000000", 6);
  EXPECT_EQ(buffer.Load(0, "11", 2).value, 1u);
}

TEST(InputBufferRangePastEnd) {
  int8_t storage[4] = {};
  InputBuffer buffer(storage, sizeof(storage));
  buffer.Load(0, "000000", 6);
  const LoadResult result = buffer.Load(3, "0000", 4);
  EXPECT_TRUE(result.error == proto::Error::kRange);
  EXPECT_EQ(result.value, 1u);
  EXPECT_EQ(buffer.filled(), 3u);
}

TEST(InputBufferRangeChunk) {
  static int8_t storage[1000] = {};
  InputBuffer buffer(storage, sizeof(storage));
  const std::string hex(2 * (proto::kMaxChunk + 1), '0');
  const LoadResult result = buffer.Load(0, hex.data(), hex.size());
  EXPECT_TRUE(result.error == proto::Error::kRange);
  EXPECT_EQ(result.value, proto::kMaxChunk);
  EXPECT_EQ(buffer.Load(0, hex.data(), hex.size() - 2).value, proto::kMaxChunk);
}

TEST(InputBufferHugeOffset) {
  int8_t storage[4] = {};
  InputBuffer buffer(storage, sizeof(storage));
  EXPECT_TRUE(buffer.Load(UINT32_MAX, "00", 2).error == proto::Error::kOrder);
}
