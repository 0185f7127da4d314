#include "core/line_writer.h"

#include <string>

#include "tests/micro_test.h"

namespace {
std::string Text(const LineWriter& writer) { return std::string(writer.data(), writer.size()); }
}  // namespace

TEST(LineWriterCrcLine) {
  LineWriter writer;
  writer.Put("HELLO");
  EXPECT_TRUE(writer.FinishWithCrc());
  EXPECT_STREQ(Text(writer), "HELLO *49D6\n");
}

TEST(LineWriterNumbers) {
  LineWriter writer;
  writer.PutInt(-128).Put(' ').PutInt(0).Put(' ').PutUint(4294967295u).Put(' ').PutInt(INT32_MIN).Put(' ');
  writer.PutHex32(0x3D800000u);
  EXPECT_TRUE(writer.FinishComment());
  EXPECT_STREQ(Text(writer), "-128 0 4294967295 -2147483648 3D800000\n");
}

TEST(LineWriterOverflowIsReported) {
  LineWriter writer;
  writer.Put(std::string(proto::kMaxLine, 'A').c_str());
  EXPECT_TRUE(!writer.FinishWithCrc());
  EXPECT_TRUE(writer.size() <= proto::kMaxLine + 1);
  writer.Clear();
  writer.Put("X");
  EXPECT_TRUE(writer.FinishComment());
}
