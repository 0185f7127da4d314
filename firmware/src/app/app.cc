#include "app/app.h"

#include "app/firmware_version.h"
#include "app/generated_model.h"
#include "core/device.h"
#include "core/inference.h"
#include "core/platform.h"

namespace app {

namespace {

// A broken configuration is repeated this often, so a serial monitor opened late still sees it.
constexpr uint32_t kFatalRepeatMicros = 2000000;

int8_t g_input[kInputBytes];
int16_t g_audio[kAudioSamples];  // one clip of raw audio (AUDIO/HEAR)
DeviceConfig g_config;
Device* g_device = nullptr;
const char* g_fatal = nullptr;
uint32_t g_fatal_last = 0;
bool g_led = false;

DeviceConfig MakeConfig(const char* inference_error) {
  DeviceConfig config;
  config.firmware_version = kFirmwareVersion;
  config.model_hash = kModelHash;
  config.num_frames = kNumFrames;
  config.num_coeffs = kNumCoeffs;
  config.input_scale_bits = kInputScaleBits;
  config.input_zero_point = kInputZeroPoint;
  config.num_labels = kNumLabels;
  config.output_scale_bits = kOutputScaleBits;
  config.output_zero_point = kOutputZeroPoint;
  config.arena_bytes = inference::ArenaUsedBytes();
  config.labels = kLabels;
  config.engine = inference::EngineName();
  config.min_word_score = kMinWordScore;
  config.selftest.count = kNumSelftestClips;
  config.selftest.inputs = &g_selftest_inputs[0][0];
  config.selftest.expected = &g_selftest_expected[0][0];
  config.selftest.labels = g_selftest_labels;
  config.audio_samples = kAudioSamples;
  config.audio_rate = kAudioSampleRate;
  config.inference_error = inference_error;
  return config;
}

void SendFatal() {
  platform::Write("# fatal: ", 9);
  const char* end = g_fatal;
  while (*end != '\0') ++end;
  platform::Write(g_fatal, static_cast<size_t>(end - g_fatal));
  platform::Write("\n", 1);
}

}  // namespace

void Setup() {
  platform::Init();
  g_config = MakeConfig(inference::Init());
  g_fatal = Device::ValidateConfig(g_config);
  if (g_fatal != nullptr) {
    SendFatal();
    g_fatal_last = platform::MicrosNow();
    return;
  }
  static Device device(g_config, g_input, g_audio);
  g_device = &device;
  device.Boot();
}

void Loop() {
  if (g_device == nullptr) {
    // No protocol without a valid configuration: blink and repeat the reason.
    if (platform::MicrosNow() - g_fatal_last >= kFatalRepeatMicros) {
      g_fatal_last = platform::MicrosNow();
      g_led = !g_led;
      platform::SetLed(g_led);
      SendFatal();
    }
    return;
  }
  bool received = false;
  for (int byte = platform::ReadByte(); byte >= 0; byte = platform::ReadByte()) {
    g_device->HandleByte(static_cast<uint8_t>(byte));
    received = true;
  }
  if (!received) g_device->Idle();
}

}  // namespace app
