#include "core/command.h"

#include <cstring>

#include "core/crc16.h"

namespace {

// A token of the body: a pointer into the line and a length.
struct Token {
  const char* text;
  size_t len;

  bool Is(const char* word) const { return len == std::strlen(word) && std::memcmp(text, word, len) == 0; }
};

// LOAD and AUDIO have the most tokens (word, offset, payload); one more slot detects an extra token.
constexpr size_t kMaxTokens = 4;

// Splits at single spaces; empty tokens are kept (doubled, leading or trailing spaces), as the syntax forbids them.
size_t Tokenize(const char* body, size_t len, Token* tokens) {
  size_t count = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; ++i) {
    if (i == len || body[i] == ' ') {
      if (count == kMaxTokens) return kMaxTokens + 1;
      tokens[count++] = Token{body + start, i - start};
      start = i + 1;
    }
  }
  return count;
}

// Finds the first " *" separator, or returns len.
size_t FindCrcSeparator(const char* line, size_t len) {
  for (size_t i = 0; i + proto::kCrcSeparatorLen <= len; ++i) {
    if (std::memcmp(line + i, proto::kCrcSeparator, proto::kCrcSeparatorLen) == 0) return i;
  }
  return len;
}

// Reads exactly proto::kCrcHexDigits hex digits; false when the text is anything else.
bool ParseCrc(const char* text, size_t len, uint16_t* crc) {
  if (len != proto::kCrcHexDigits) return false;
  uint16_t value = 0;
  for (size_t i = 0; i < len; ++i) {
    const int digit = HexDigitValue(text[i]);
    if (digit < 0) return false;
    value = static_cast<uint16_t>((value << 4) | digit);
  }
  *crc = value;
  return true;
}

// Decimal digits only; saturates instead of wrapping so a huge offset still reads as "wrong offset".
bool ParseOffset(const Token& token, uint32_t* value) {
  if (token.len == 0) return false;
  uint32_t result = 0;
  for (size_t i = 0; i < token.len; ++i) {
    const char c = token.text[i];
    if (c < '0' || c > '9') return false;
    const uint32_t digit = static_cast<uint32_t>(c - '0');
    result = (result > (UINT32_MAX - digit) / 10) ? UINT32_MAX : result * 10 + digit;
  }
  *value = result;
  return true;
}

bool IsHexPayload(const Token& token) {
  if (token.len < 2 || token.len % 2 != 0) return false;
  for (size_t i = 0; i < token.len; ++i) {
    if (HexDigitValue(token.text[i]) < 0) return false;
  }
  return true;
}

ParseResult Failure(proto::Error error) {
  ParseResult result;
  result.error = error;
  return result;
}

}  // namespace

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

ParseResult ParseCommand(const char* line, size_t len) {
  // 1. The CRC, when present, is verified before anything else is believed.
  const size_t body_len = FindCrcSeparator(line, len);
  const bool has_crc = body_len < len;
  if (has_crc) {
    const size_t crc_start = body_len + proto::kCrcSeparatorLen;
    uint16_t received = 0;
    if (!ParseCrc(line + crc_start, len - crc_start, &received)) return Failure(proto::Error::kCrc);
    if (crc16::Compute(line, body_len) != received) return Failure(proto::Error::kCrc);
  }

  // 2. The command word.
  Token tokens[kMaxTokens];
  const size_t count = Tokenize(line, body_len, tokens);
  ParseResult result;
  const Token& word = tokens[0];
  size_t expected_tokens = 1;
  if (word.Is(proto::kCmdHello)) {
    result.command.kind = CommandKind::kHello;
  } else if (word.Is(proto::kCmdLoad)) {
    result.command.kind = CommandKind::kLoad;
    expected_tokens = 3;
  } else if (word.Is(proto::kCmdInfer)) {
    result.command.kind = CommandKind::kInfer;
  } else if (word.Is(proto::kCmdSelftest)) {
    result.command.kind = CommandKind::kSelftest;
  } else if (word.Is(proto::kCmdStream)) {
    result.command.kind = CommandKind::kStream;
  } else if (word.Is(proto::kCmdStop)) {
    result.command.kind = CommandKind::kStop;
  } else if (word.Is(proto::kCmdAudio)) {
    result.command.kind = CommandKind::kAudio;
    expected_tokens = 3;
  } else if (word.Is(proto::kCmdHear)) {
    result.command.kind = CommandKind::kHear;
  } else if (word.Is(proto::kCmdFeatures)) {
    result.command.kind = CommandKind::kFeatures;
    expected_tokens = 2;
  } else {
    return Failure(proto::Error::kUnknown);
  }

  // 3. LOAD and AUDIO carry data, so they must be protected.
  const bool carries_data = result.command.kind == CommandKind::kLoad || result.command.kind == CommandKind::kAudio;
  if (carries_data && !has_crc) return Failure(proto::Error::kNoCrc);

  // 4. The arguments.
  if (count != expected_tokens) return Failure(proto::Error::kSyntax);
  if (carries_data) {
    if (!ParseOffset(tokens[1], &result.command.offset) || !IsHexPayload(tokens[2])) {
      return Failure(proto::Error::kSyntax);
    }
    result.command.hex = tokens[2].text;
    result.command.hex_len = tokens[2].len;
  }
  if (result.command.kind == CommandKind::kFeatures && !ParseOffset(tokens[1], &result.command.offset)) {
    return Failure(proto::Error::kSyntax);
  }
  return result;
}
