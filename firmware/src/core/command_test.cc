#include "core/command.h"

#include "core/crc16.h"

#include <cstdio>
#include <string>

#include "tests/micro_test.h"

namespace {
ParseResult Parse(const std::string& line) { return ParseCommand(line.data(), line.size()); }
bool Fails(const std::string& line, proto::Error error) { return Parse(line).error == error; }
}  // namespace

TEST(CommandWordsWithoutCrc) {
  EXPECT_TRUE(Parse("HELLO").command.kind == CommandKind::kHello);
  EXPECT_TRUE(Parse("INFER").command.kind == CommandKind::kInfer);
  EXPECT_TRUE(Parse("SELFTEST").command.kind == CommandKind::kSelftest);
  EXPECT_TRUE(Parse("STREAM").command.kind == CommandKind::kStream);
  EXPECT_TRUE(Parse("STOP").command.kind == CommandKind::kStop);
}

TEST(CommandCrcVerified) {
  EXPECT_TRUE(Parse("HELLO *49D6").error == proto::Error::kNone);
  EXPECT_TRUE(Parse("HELLO *49d6").error == proto::Error::kNone);
  EXPECT_TRUE(Fails("HELLO *49D7", proto::Error::kCrc));
  EXPECT_TRUE(Fails("HELLO *49D", proto::Error::kCrc));
  EXPECT_TRUE(Fails("HELLO *49D6 ", proto::Error::kCrc));
  EXPECT_TRUE(Fails("HELLO *", proto::Error::kCrc));
  EXPECT_TRUE(Fails("HELLO *XYZW", proto::Error::kCrc));
}

TEST(CommandUnknown) {
  EXPECT_TRUE(Fails("hello", proto::Error::kUnknown));
  EXPECT_TRUE(Fails(" ", proto::Error::kUnknown));
  EXPECT_TRUE(Fails(" HELLO", proto::Error::kUnknown));
  EXPECT_TRUE(Fails(std::string("HEL\0LO", 6), proto::Error::kUnknown));
}

TEST(CommandSyntax) {
  EXPECT_TRUE(Fails("HELLO ", proto::Error::kSyntax));
  EXPECT_TRUE(Fails("HELLO x", proto::Error::kSyntax));
  EXPECT_TRUE(Fails("STOP now please go", proto::Error::kSyntax));
}

TEST(CommandLoadNeedsCrc) { EXPECT_TRUE(Fails("LOAD 0 00", proto::Error::kNoCrc)); }

TEST(CommandLoadArguments) {
  // LOAD requires a CRC, and a wrong one would hide the argument errors.
  auto with_crc = [](const std::string& body) {
    char crc[8];
    std::snprintf(crc, sizeof(crc), " *%04X", crc16::Compute(body.data(), body.size()));
    return body + crc;
  };
  const ParseResult ok = Parse(with_crc("LOAD 12 FF0a"));
  EXPECT_TRUE(ok.error == proto::Error::kNone);
  EXPECT_EQ(ok.command.offset, 12u);
  EXPECT_EQ(ok.command.hex_len, 4u);
  EXPECT_TRUE(Parse(with_crc("LOAD 99999999999999 00")).command.offset == UINT32_MAX);
  EXPECT_TRUE(Fails(with_crc("LOAD 0"), proto::Error::kSyntax));
  EXPECT_TRUE(Fails(with_crc("LOAD 0 0"), proto::Error::kSyntax));
  EXPECT_TRUE(Fails(with_crc("LOAD 0 0G"), proto::Error::kSyntax));
  EXPECT_TRUE(Fails(with_crc("LOAD -1 00"), proto::Error::kSyntax));
  EXPECT_TRUE(Fails(with_crc("LOAD +1 00"), proto::Error::kSyntax));
  EXPECT_TRUE(Fails(with_crc("LOAD  0 00"), proto::Error::kSyntax));
  EXPECT_TRUE(Fails(with_crc("LOAD 0 00 00"), proto::Error::kSyntax));
}

TEST(CommandHexDigits) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('F'), 15);
  EXPECT_EQ(HexDigitValue('f'), 15);
  EXPECT_EQ(HexDigitValue('g'), -1);
}
