#include "core/device.h"

#include <cstring>

#include "core/audio_frontend.h"
#include "core/platform.h"

namespace {

// Worst INFER reply: "OK INFER us=<10> cycles=<10> top=<2> scores=" plus "-128," per score, plus
// " value=<8 hex>" (minor version 1), " answer=low-confidence" (minor version 2), plus " *CRC"; HEAR adds
// "fe_us=<10> fe_cycles=<10> ".
constexpr size_t kInferReplyMax = 48 + 5 * Device::kMaxOutputs + 15 + 22 + 6;
constexpr size_t kHearReplyMax = kInferReplyMax + 28;
static_assert(kHearReplyMax <= proto::kMaxLine, "INFER and HEAR replies must fit in one line");
// The longest FEATURES reply: "OK FEATURES <offset> " + 2 hex digits per byte + " *CRC".
static_assert(24 + 2 * proto::kMaxChunk + 6 <= proto::kMaxLine, "FEATURES reply must fit in one line");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "AUDIO bytes are stored as little-endian samples");

// Percent of a probability; rounding half up keeps host and device output identical (binary32 on both).
constexpr float kPercent = 100.0f;
constexpr float kRoundHalfUp = 0.5f;

bool IsLabelChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void FormatHello(const DeviceConfig& config, LineWriter& writer) {
  writer.Clear();
  writer.Put(proto::kOk).Put(' ').Put(proto::kCmdHello);
  writer.Put(" proto=").PutInt(proto::kVersion);
  writer.Put(" fw=").Put(config.firmware_version);
  writer.Put(" model=").Put(config.model_hash);
  writer.Put(" in=").PutUint(config.num_frames).Put('x').PutUint(config.num_coeffs);
  writer.Put(" in_scale=").PutHex32(config.input_scale_bits);
  writer.Put(" in_zp=").PutInt(config.input_zero_point);
  writer.Put(" out=").PutUint(config.num_labels);
  writer.Put(" out_scale=").PutHex32(config.output_scale_bits);
  writer.Put(" out_zp=").PutInt(config.output_zero_point);
  writer.Put(" arena=").PutUint(config.arena_bytes);
  writer.Put(" labels=");
  for (uint32_t i = 0; i < config.num_labels; ++i) {
    if (i > 0) writer.Put(',');
    writer.Put(config.labels[i]);
  }
  if (config.engine[0] != '\0') writer.Put(" engine=").Put(config.engine);
  writer.Put(" audio=").PutUint(config.audio_samples).Put(" rate=").PutUint(config.audio_rate);
  writer.Put(" minor=").PutInt(proto::kMinorVersion);
  writer.Put(" min_score=").PutInt(config.min_word_score);
}

float FloatFromBits(uint32_t bits) {
  float value;
  static_assert(sizeof(value) == sizeof(bits), "float must be binary32");
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint32_t BitsFromFloat(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

}  // namespace

const char* Device::ValidateConfig(const DeviceConfig& config) {
  if (config.num_frames == 0 || config.num_coeffs == 0) return "empty input shape";
  if (config.num_labels == 0 || config.num_labels > kMaxOutputs) return "number of labels out of range";
  if (config.labels == nullptr) return "no labels";
  for (uint32_t i = 0; i < config.num_labels; ++i) {
    const char* label = config.labels[i];
    if (label == nullptr || *label == '\0') return "empty label";
    for (const char* c = label; *c != '\0'; ++c) {
      if (!IsLabelChar(*c)) return "label outside [A-Za-z0-9_-]";
    }
  }
  if (config.min_word_score < -128 || config.min_word_score > 128) return "min_word_score outside -128..128";
  if (config.selftest.count < 0) return "negative self-test count";
  if (config.selftest.count > 0 &&
      (config.selftest.inputs == nullptr || config.selftest.expected == nullptr || config.selftest.labels == nullptr)) {
    return "self-test clips missing";
  }
  for (int i = 0; i < config.selftest.count; ++i) {
    const int label = config.selftest.labels[i];
    if (label < 0 || static_cast<uint32_t>(label) >= config.num_labels) return "self-test label out of range";
  }
  LineWriter writer;
  FormatHello(config, writer);
  if (!writer.FinishWithCrc()) return "HELLO reply longer than a line";
  return nullptr;
}

Device::Device(const DeviceConfig& config, int8_t* input_storage, int16_t* audio_storage)
    : config_(config),
      input_(input_storage, static_cast<size_t>(config.num_frames) * config.num_coeffs),
      // Character types may alias the samples: AUDIO writes their bytes in place.
      audio_(reinterpret_cast<int8_t*>(audio_storage), 2 * static_cast<size_t>(config.audio_samples)),
      audio_samples_(audio_storage) {}

void Device::Boot() {
  writer_.Clear();
  writer_.Put(proto::kBoot).Put(" proto=").PutInt(proto::kVersion);
  writer_.Put(" fw=").Put(config_.firmware_version).Put(" model=").Put(config_.model_hash);
  SendLine();

  writer_.Clear();
  writer_.Put(proto::kCommentPrefix);
  if (config_.inference_error != nullptr) {
    writer_.Put("model check failed: ").Put(config_.inference_error);
  } else {
    writer_.Put("self-test ").PutInt(RunSelftest()).Put('/').PutInt(config_.selftest.count);
    writer_.Put(" identical to host");
  }
  SendComment();
}

void Device::HandleByte(uint8_t byte) {
  const LineEvent event = reader_.Feed(byte);
  if (event == LineEvent::kNone) return;
  // Any line ends stream mode (PROTOCOL.md, STREAM), then is handled as usual.
  streaming_ = false;
  switch (event) {
    case LineEvent::kLine: HandleLine(reader_.line(), reader_.length()); break;
    case LineEvent::kTooLong: SendError(proto::Error::kTooLong); break;
    case LineEvent::kEmpty:
    case LineEvent::kNone: break;
  }
}

void Device::Idle() {
  if (streaming_) StreamOne();
}

void Device::HandleLine(const char* line, size_t len) {
  const ParseResult parsed = ParseCommand(line, len);
  if (parsed.error != proto::Error::kNone) {
    SendError(parsed.error);
    return;
  }
  Dispatch(parsed.command);
}

void Device::Dispatch(const Command& command) {
  switch (command.kind) {
    case CommandKind::kHello:
      SendHello();
      return;
    case CommandKind::kLoad:
      SendLoad(command);
      return;
    case CommandKind::kInfer:
      SendInfer();
      return;
    case CommandKind::kSelftest: {
      if (config_.inference_error != nullptr) break;
      const int passed = RunSelftest();
      writer_.Clear();
      writer_.Put(proto::kOk).Put(' ').Put(proto::kCmdSelftest).Put(' ');
      writer_.PutInt(passed).Put('/').PutInt(config_.selftest.count);
      SendLine();
      return;
    }
    case CommandKind::kStream:
      if (config_.inference_error != nullptr) break;
      writer_.Clear();
      writer_.Put(proto::kOk).Put(' ').Put(proto::kCmdStream);
      SendLine();
      streaming_ = true;
      stream_clip_ = 0;
      return;
    case CommandKind::kStop:
      writer_.Clear();
      writer_.Put(proto::kOk).Put(' ').Put(proto::kCmdStop);
      SendLine();
      return;
    case CommandKind::kAudio:
      SendAudio(command);
      return;
    case CommandKind::kHear:
      SendHear();
      return;
    case CommandKind::kFeatures:
      SendFeatures(command);
      return;
  }
  SendError(proto::Error::kInvoke);
}

void Device::SendHello() {
  FormatHello(config_, writer_);
  SendLine();
}

void Device::SendLoad(const Command& command) {
  const LoadResult result = input_.Load(command.offset, command.hex, command.hex_len);
  if (result.error == proto::Error::kNone) features_ready_ = false;  // the features' buffer is overwritten
  SendChunkReply(proto::kCmdLoad, result);
}

void Device::SendAudio(const Command& command) {
  SendChunkReply(proto::kCmdAudio, audio_.Load(command.offset, command.hex, command.hex_len));
}

void Device::SendChunkReply(const char* word, const LoadResult& result) {
  switch (result.error) {
    case proto::Error::kNone:
      writer_.Clear();
      writer_.Put(proto::kOk).Put(' ').Put(word).Put(' ').PutUint(static_cast<uint32_t>(result.value));
      SendLine();
      return;
    case proto::Error::kOrder:
      SendError(result.error, "expected", static_cast<uint32_t>(result.value));
      return;
    default:
      SendError(result.error, "max", static_cast<uint32_t>(result.value));
      return;
  }
}

void Device::SendInfer() {
  if (!input_.Complete()) {
    SendError(proto::Error::kIncomplete, "filled", static_cast<uint32_t>(input_.filled()));
    return;
  }
  inference::Timing timing;
  const bool ok = config_.inference_error == nullptr && RunClip(input_.data(), scores_, &timing);
  // Every clip is loaded from offset 0, whatever the outcome.
  input_.Clear();
  if (!ok) {
    SendError(proto::Error::kInvoke);
    return;
  }
  writer_.Clear();
  writer_.Put(proto::kOk).Put(' ').Put(proto::kCmdInfer);
  SendScores(timing, false);
}

void Device::SendHear() {
  const size_t filled = audio_.filled();
  if (filled == 0 || filled % 2 != 0) {
    SendError(proto::Error::kIncomplete, "filled", static_cast<uint32_t>(filled));
    return;
  }
  // Every clip is loaded from offset 0, whatever the outcome; the features replace any loaded input.
  audio_.Clear();
  input_.Clear();
  inference::Timing frontend_timing;
  bool tone = false;
  features_ready_ = config_.inference_error == nullptr &&
                    audio_frontend::Run(audio_samples_, filled / 2, input_.mutable_data(),
                                        input_.capacity(), &frontend_timing, &tone);
  inference::Timing timing;
  if (!features_ready_ || !RunClip(input_.data(), scores_, &timing)) {
    SendError(proto::Error::kInvoke);
    return;
  }
  writer_.Clear();
  writer_.Put(proto::kOk).Put(' ').Put(proto::kCmdHear);
  writer_.Put(" fe_us=").PutUint(frontend_timing.micros).Put(" fe_cycles=").PutUint(frontend_timing.cycles);
  SendScores(timing, tone);
}

void Device::SendFeatures(const Command& command) {
  if (!features_ready_) {
    SendError(proto::Error::kIncomplete, "filled", 0);
    return;
  }
  const size_t total = input_.capacity();
  if (command.offset >= total) {
    SendError(proto::Error::kRange, "max", 0);
    return;
  }
  const size_t remaining = total - command.offset;
  const size_t count = remaining < proto::kMaxChunk ? remaining : proto::kMaxChunk;
  writer_.Clear();
  writer_.Put(proto::kOk).Put(' ').Put(proto::kCmdFeatures).Put(' ').PutUint(command.offset).Put(' ');
  writer_.PutHexBytes(input_.data() + command.offset, count);
  SendLine();
}

void Device::SendScores(const inference::Timing& timing, bool tone) {
  writer_.Put(" us=").PutUint(timing.micros).Put(" cycles=").PutUint(timing.cycles);
  const int top = TopIndex(scores_);
  writer_.Put(" top=").PutInt(top).Put(" scores=");
  for (uint32_t i = 0; i < config_.num_labels; ++i) {
    if (i > 0) writer_.Put(',');
    writer_.PutInt(scores_[i]);
  }
  // Minor version 1: the top output dequantized on the device (a classifier's probability, a regression
  // model's value), in binary32 like the host's (score - zero point) * scale.
  const float value =
      static_cast<float>(scores_[top] - config_.output_zero_point) * FloatFromBits(config_.output_scale_bits);
  writer_.Put(" value=").PutHex32(BitsFromFloat(value));
  writer_.Put(" answer=").Put(tone ? proto::kAnswerNotAWord : Answer(scores_, top));
  SendLine();
}

int Device::RunSelftest() {
  const size_t input_bytes = input_.capacity();
  int passed = 0;
  inference::Timing timing;
  for (int clip = 0; clip < config_.selftest.count; ++clip) {
    const int8_t* input = config_.selftest.inputs + static_cast<size_t>(clip) * input_bytes;
    const int8_t* expected = config_.selftest.expected + static_cast<size_t>(clip) * config_.num_labels;
    if (RunClip(input, scores_, &timing) && std::memcmp(scores_, expected, config_.num_labels) == 0) ++passed;
  }
  return passed;
}

void Device::StreamOne() {
  if (config_.selftest.count == 0) return;
  const int clip = stream_clip_;
  stream_clip_ = (stream_clip_ + 1) % config_.selftest.count;
  const int8_t* input = config_.selftest.inputs + static_cast<size_t>(clip) * input_.capacity();
  inference::Timing timing;
  writer_.Clear();
  writer_.Put(proto::kCommentPrefix).PutInt(clip).Put(' ');
  if (!RunClip(input, scores_, &timing)) {
    writer_.Put("invoke failed, stream stopped");
    streaming_ = false;
    SendComment();
    return;
  }
  const int top = TopIndex(scores_);
  const float probability =
      static_cast<float>(scores_[top] - config_.output_zero_point) * FloatFromBits(config_.output_scale_bits);
  const int percent = static_cast<int>(probability * kPercent + kRoundHalfUp);
  // A word alone; otherwise why it is none before the label (PROTOCOL.md, STREAM).
  const char* answer = Answer(scores_, top);
  if (std::strcmp(answer, proto::kAnswerWord) != 0) writer_.Put(answer).Put(':');
  writer_.Put(config_.labels[top]).Put(' ').PutInt(percent).Put("% ").PutUint(timing.micros).Put("us");
  SendComment();
}

bool Device::RunClip(const int8_t* input, int8_t* scores, inference::Timing* timing) {
  platform::SetLed(true);
  const bool ok = inference::Run(input, input_.capacity(), scores, config_.num_labels, timing);
  platform::SetLed(false);
  return ok;
}

int Device::TopIndex(const int8_t* scores) const {
  int top = 0;
  for (uint32_t i = 1; i < config_.num_labels; ++i) {
    if (scores[i] > scores[top]) top = static_cast<int>(i);
  }
  return top;
}

const char* Device::Answer(const int8_t* scores, int top) const {
  if (config_.labels[top][0] == '_') return proto::kAnswerNotAWord;
  return scores[top] >= config_.min_word_score ? proto::kAnswerWord : proto::kAnswerLowConfidence;
}

void Device::SendError(proto::Error error) {
  writer_.Clear();
  writer_.Put(proto::kErr).Put(' ').Put(proto::ErrorCode(error));
  SendLine();
}

void Device::SendError(proto::Error error, const char* key, uint32_t value) {
  writer_.Clear();
  writer_.Put(proto::kErr).Put(' ').Put(proto::ErrorCode(error)).Put(' ').Put(key).Put('=').PutUint(value);
  SendLine();
}

void Device::SendLine() {
  writer_.FinishWithCrc();
  platform::Write(writer_.data(), writer_.size());
}

void Device::SendComment() {
  writer_.FinishComment();
  platform::Write(writer_.data(), writer_.size());
}
