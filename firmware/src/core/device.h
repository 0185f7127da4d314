// Command dispatch: the device side of the serial protocol, independent of hardware and model runtime.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/command.h"
#include "core/inference.h"
#include "core/input_buffer.h"
#include "core/line_reader.h"
#include "core/line_writer.h"

// Clips compiled into the firmware with the scores the host's TFLM computed for them.
struct SelftestClips {
  int count = 0;
  const int8_t* inputs = nullptr;    // count x input bytes, row-major
  const int8_t* expected = nullptr;  // count x num_labels
  const int* labels = nullptr;       // true label index per clip
};

// Everything HELLO reports, plus the self-test clips. Built from the generated model_settings.h on the
// device and from PROTOCOL.md's reference configuration in the host tests.
struct DeviceConfig {
  const char* firmware_version = "";
  const char* model_hash = "";
  uint32_t num_frames = 0;
  uint32_t num_coeffs = 0;
  uint32_t input_scale_bits = 0;
  int32_t input_zero_point = 0;
  uint32_t num_labels = 0;
  uint32_t output_scale_bits = 0;
  int32_t output_zero_point = 0;
  uint32_t arena_bytes = 0;
  const char* const* labels = nullptr;
  // The inference implementation (inference::EngineName()); HELLO reports it after the labels when not empty.
  const char* engine = "";
  // A top label is a word when it does not start with '_' and its score reaches this (the model's
  // config.toml [answer] min_confidence as an int8 score, kMinWordScore; -128: every score, 128: none).
  int32_t min_word_score = -128;
  SelftestClips selftest;
  // Raw audio (protocol 2): the most 16-bit samples one HEAR takes (0: none) and their sample rate.
  uint32_t audio_samples = 0;
  uint32_t audio_rate = 0;
  // nullptr when the model passed its startup checks; otherwise the reason, and inference commands fail.
  const char* inference_error = nullptr;
};

class Device {
 public:
  // Most output scores a device reports: sizes the score buffer (the model has 10).
  static constexpr uint32_t kMaxOutputs = 32;

  // nullptr when `config` can be served (label characters, line lengths, sizes), otherwise the reason.
  static const char* ValidateConfig(const DeviceConfig& config);

  // `input_storage` holds num_frames x num_coeffs bytes, `audio_storage` audio_samples samples; `config` must
  // have passed ValidateConfig().
  Device(const DeviceConfig& config, int8_t* input_storage, int16_t* audio_storage);

  // Sends BOOT and the self-test result; call once after reset.
  void Boot();

  // Handles one received byte; replies when it completes a line.
  void HandleByte(uint8_t byte);

  // Called whenever no byte is waiting: in stream mode, runs and prints one prediction.
  void Idle();

  bool streaming() const { return streaming_; }

 private:
  void HandleLine(const char* line, size_t len);
  void Dispatch(const Command& command);
  void SendHello();
  void SendLoad(const Command& command);
  void SendChunkReply(const char* word, const LoadResult& result);
  void SendInfer();
  void SendAudio(const Command& command);
  void SendHear();
  void SendFeatures(const Command& command);
  // `tone`: the front end heard a tone (HEAR), the answer is not-a-word whatever the scores.
  void SendScores(const inference::Timing& timing, bool tone);
  int RunSelftest();
  void StreamOne();
  bool RunClip(const int8_t* input, int8_t* scores, inference::Timing* timing);
  int TopIndex(const int8_t* scores) const;
  const char* Answer(const int8_t* scores, int top) const;
  void SendError(proto::Error error);
  void SendError(proto::Error error, const char* key, uint32_t value);
  void SendLine();
  void SendComment();

  const DeviceConfig& config_;
  LineReader reader_;
  LineWriter writer_;
  InputBuffer input_;
  InputBuffer audio_;  // the audio's bytes, little-endian samples
  int16_t* audio_samples_;
  // The input buffer holds the features of the last HEAR (FEATURES may read them) until the next LOAD.
  bool features_ready_ = false;
  int8_t scores_[kMaxOutputs] = {};
  bool streaming_ = false;
  int stream_clip_ = 0;
};
