#include "core/line_reader.h"

#include <string>

#include "tests/micro_test.h"

namespace {

// Feeds `bytes` and returns the events as letters: L line, E empty, T too-long.
std::string FeedAll(LineReader& reader, const std::string& bytes, std::string* last_line) {
  std::string events;
  for (char c : bytes) {
    switch (reader.Feed(static_cast<uint8_t>(c))) {
      case LineEvent::kLine:
        events += 'L';
        *last_line = std::string(reader.line(), reader.length());
        break;
      case LineEvent::kEmpty: events += 'E'; break;
      case LineEvent::kTooLong: events += 'T'; break;
      case LineEvent::kNone: break;
    }
  }
  return events;
}

}  // namespace

TEST(LineReaderSplitsLines) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, "HELLO\nSTOP\n", &line), "LL");
  EXPECT_STREQ(line, "STOP");
}

TEST(LineReaderDropsCarriageReturnsAnywhere) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, "\rHE\rLLO\r\n", &line), "L");
  EXPECT_STREQ(line, "HELLO");
}

TEST(LineReaderReportsEmptyLines) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, "\n\r\n", &line), "EE");
  EXPECT_TRUE(!reader.InLine());
}

TEST(LineReaderMaxLineFits) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, std::string(proto::kMaxLine, 'A') + "\n", &line), "L");
  EXPECT_EQ(line.size(), proto::kMaxLine);
}

TEST(LineReaderTooLongThenResyncs) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, std::string(proto::kMaxLine + 1, 'A') + "\nHELLO\n", &line), "TL");
  EXPECT_STREQ(line, "HELLO");
}

TEST(LineReaderCarriageReturnsDoNotCount) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, std::string(proto::kMaxLine, 'A') + "\r\r\n", &line), "L");
}

TEST(LineReaderKeepsNulBytes) {
  LineReader reader;
  std::string line;
  EXPECT_STREQ(FeedAll(reader, std::string("A\0B\n", 4), &line), "L");
  EXPECT_EQ(line.size(), 3u);
}

TEST(LineReaderInLine) {
  LineReader reader;
  std::string line;
  FeedAll(reader, "HEL", &line);
  EXPECT_TRUE(reader.InLine());
}
