#include "core/device.h"

#include <string>

#include "platform/platform_host.h"
#include "tests/micro_test.h"
#include "tests/reference_config.h"

namespace {

// A booted device on the reference configuration whose output is captured.
struct Session {
  explicit Session(const DeviceConfig& c) : config(c), device(config, input, audio) {
    platform_host::CaptureOutput(&output);
    device.Boot();
  }
  ~Session() { platform_host::CaptureOutput(nullptr); }

  std::string Send(const std::string& bytes) {
    output.clear();
    for (char c : bytes) device.HandleByte(static_cast<uint8_t>(c));
    return output;
  }

  DeviceConfig config;
  int8_t input[reference::kInputBytes] = {};
  int16_t audio[reference::kAudioSamples] = {};
  std::string output;
  Device device;
};

std::string FullLoad() {
  std::string bytes;
  // A clip of zeros in chunks of at most proto::kMaxChunk bytes.
  for (uint32_t offset = 0; offset < reference::kInputBytes; offset += proto::kMaxChunk) {
    const uint32_t left = reference::kInputBytes - offset;
    const uint32_t chunk = left < proto::kMaxChunk ? left : static_cast<uint32_t>(proto::kMaxChunk);
    LineWriter writer;
    writer.Put("LOAD ").PutUint(offset).Put(' ');
    for (uint32_t i = 0; i < chunk; ++i) writer.Put("00");
    writer.FinishWithCrc();
    bytes.append(writer.data(), writer.size());
  }
  return bytes;
}

// `body` with its CRC and end of line.
std::string Framed(const char* body) {
  LineWriter writer;
  writer.Put(body);
  writer.FinishWithCrc();
  return std::string(writer.data(), writer.size());
}

}  // namespace

TEST(DeviceBootLines) {
  std::string output;
  platform_host::CaptureOutput(&output);
  const DeviceConfig config = reference::Config();
  static int8_t input[reference::kInputBytes];
  static int16_t audio[reference::kAudioSamples];
  Device device(config, input, audio);
  device.Boot();
  platform_host::CaptureOutput(nullptr);
  EXPECT_STREQ(output, "BOOT proto=2 fw=0.1.0 model=0123abcd *FF7A\n# self-test 1/2 identical to host\n");
}

TEST(DeviceReferenceConfigIsValid) { EXPECT_TRUE(Device::ValidateConfig(reference::Config()) == nullptr); }

TEST(DeviceRejectsBadLabels) {
  DeviceConfig config = reference::Config();
  static const char* const kBad[reference::kLabels] = {"ze ro", "one", "two", "three", "four",
                                                        "five",  "six", "seven", "eight", "nine"};
  config.labels = kBad;
  EXPECT_TRUE(Device::ValidateConfig(config) != nullptr);
}

TEST(DeviceRejectsTooManyLabels) {
  DeviceConfig config = reference::Config();
  config.num_labels = Device::kMaxOutputs + 1;
  EXPECT_TRUE(Device::ValidateConfig(config) != nullptr);
}

TEST(DeviceModelCheckFailure) {
  DeviceConfig config = reference::Config();
  config.inference_error = "schema version 2, expected 3";
  std::string boot;
  platform_host::CaptureOutput(&boot);
  static int8_t input[reference::kInputBytes];
  static int16_t audio[reference::kAudioSamples];
  Device device(config, input, audio);
  device.Boot();
  EXPECT_TRUE(boot.find("# model check failed: schema version 2, expected 3\n") != std::string::npos);
  boot.clear();
  for (char c : std::string("SELFTEST\nSTREAM\n")) device.HandleByte(static_cast<uint8_t>(c));
  EXPECT_STREQ(boot, "ERR invoke *49CC\nERR invoke *49CC\n");
  boot.clear();
  for (char c : FullLoad() + "INFER\n") device.HandleByte(static_cast<uint8_t>(c));
  EXPECT_TRUE(boot.size() > 16 && boot.compare(boot.size() - 17, 17, "ERR invoke *49CC\n") == 0);
  platform_host::CaptureOutput(nullptr);
}

TEST(DeviceStreamCyclesClipsUntilAnyLine) {
  Session session(reference::Config());
  EXPECT_STREQ(session.Send("STREAM\n"), "OK STREAM *7AAC\n");
  session.output.clear();
  for (int i = 0; i < 3; ++i) session.device.Idle();
  EXPECT_STREQ(session.output, "# 0 nine 75% 1000us\n# 1 nine 82% 1000us\n# 0 nine 75% 1000us\n");
  EXPECT_TRUE(session.device.streaming());
  session.Send("\n");
  EXPECT_TRUE(!session.device.streaming());
}

TEST(DeviceInferEmptiesInput) {
  Session session(reference::Config());
  session.Send(FullLoad());
  const std::string reply = session.Send("INFER\n");
  EXPECT_TRUE(reply.rfind("OK INFER us=1000 cycles=64000 top=9 scores=0,7,14,21,28,35,42,49,56,63 "
                          "value=3F3F0000 answer=word *", 0) == 0);
  EXPECT_TRUE(session.Send("INFER\n").rfind("ERR incomplete filled=0 *", 0) == 0);
}

TEST(DeviceAnswersWordNotAWordOrLowConfidence) {
  // The zero clip's top is label 9 with score 63 (probability 0.746).
  DeviceConfig config = reference::Config();
  Session word(config);
  word.Send(FullLoad());
  EXPECT_TRUE(word.Send("INFER\n").find(" value=3F3F0000 answer=word *") != std::string::npos);
  config.min_word_score = 64;
  Session low(config);
  low.Send(FullLoad());
  EXPECT_TRUE(low.Send("INFER\n").find(" value=3F3F0000 answer=low-confidence *") != std::string::npos);
  EXPECT_STREQ(low.Send("STREAM\n"), "OK STREAM *7AAC\n");
  low.output.clear();
  low.device.Idle();
  EXPECT_STREQ(low.output, "# 0 low-confidence:nine 75% 1000us\n");
  static const char* const kNothing[reference::kLabels] = {"zero", "one", "two", "three", "four",
                                                            "five", "six", "seven", "eight", "_silence_"};
  config.labels = kNothing;
  config.min_word_score = -128;
  Session nothing(config);
  nothing.Send(FullLoad());
  EXPECT_TRUE(nothing.Send("INFER\n").find(" top=9 ") != std::string::npos);
  nothing.Send(FullLoad());
  EXPECT_TRUE(nothing.Send("INFER\n").find(" answer=not-a-word *") != std::string::npos);
  config.min_word_score = 129;
  EXPECT_TRUE(Device::ValidateConfig(config) != nullptr);
}

TEST(DeviceHearRunsTheFrontEndThenTheModel) {
  Session session(reference::Config());
  EXPECT_TRUE(session.Send("HEAR\n").rfind("ERR incomplete filled=0 *", 0) == 0);
  EXPECT_TRUE(session.Send("FEATURES 0\n").rfind("ERR incomplete filled=0 *", 0) == 0);
  // Two samples, 1 and 2: the fake front end's features are (2 + 1 + 2 + 3 i) & 0xFF.
  EXPECT_TRUE(session.Send(Framed("AUDIO 0 01000200")).rfind("OK AUDIO 4 *", 0) == 0);
  const std::string reply = session.Send("HEAR\n");
  EXPECT_TRUE(reply.rfind("OK HEAR fe_us=2000 fe_cycles=128000 us=1000 cycles=64000 top=", 0) == 0);
  const std::string features = session.Send("FEATURES 1280\n");
  // Features 1280..1299: (5 + 3 i) & 0xFF.
  EXPECT_TRUE(features.rfind("OK FEATURES 1280 05080B0E1114171A1D202326292C2F3235383B3E *", 0) == 0);
  EXPECT_TRUE(session.Send("FEATURES 1300\n").rfind("ERR range max=0 *", 0) == 0);
  EXPECT_TRUE(session.Send("HEAR\n").rfind("ERR incomplete filled=0 *", 0) == 0);  // the audio was used up
  session.Send(FullLoad());
  EXPECT_TRUE(session.Send("FEATURES 0\n").rfind("ERR incomplete filled=0 *", 0) == 0);  // LOAD replaced them
}
