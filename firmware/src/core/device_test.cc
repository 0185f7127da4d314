#include "core/device.h"

#include <string>

#include "platform/platform_host.h"
#include "tests/micro_test.h"
#include "tests/reference_config.h"

namespace {

// A booted device on the reference configuration whose output is captured.
struct Session {
  explicit Session(const DeviceConfig& c) : config(c), device(config, input) {
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

}  // namespace

TEST(DeviceBootLines) {
  std::string output;
  platform_host::CaptureOutput(&output);
  const DeviceConfig config = reference::Config();
  static int8_t input[reference::kInputBytes];
  Device device(config, input);
  device.Boot();
  platform_host::CaptureOutput(nullptr);
  EXPECT_STREQ(output, "BOOT proto=1 fw=0.1.0 model=0123abcd *31A6\n# self-test 1/2 identical to host\n");
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
  Device device(config, input);
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
                          "value=3F3F0000 *", 0) == 0);
  EXPECT_TRUE(session.Send("INFER\n").rfind("ERR incomplete filled=0 *", 0) == 0);
}
