// Serial protocol constants: their one source. PROTOCOL.md specifies the protocol in words, host/protocol.py is
// the Python mirror; tests/test_protocol_source.py parses this file and fails when either differs. After a change,
// regenerate firmware/protocol/golden_vectors.txt with firmware/tools/make_golden_vectors.py.
#pragma once

#include <cstddef>

namespace proto {

// Bumped whenever the wire format changes, so a host can refuse a device it does not understand.
// Version 2 added raw audio: AUDIO, HEAR, FEATURES and HELLO's audio= and rate= keys.
constexpr int kVersion = 2;

// Minor version: replies gain keys at their end only, which a host of the same version ignores, so a version-2.0
// host still works with this device and a host reading them works with an older one. 1: HELLO's minor=, INFER's and
// HEAR's value=; 2: HELLO's min_score=, INFER's and HEAR's answer=.
constexpr int kMinorVersion = 2;

// Longest line in either direction, not counting '\n'. Bounds the receive buffer (RAM on the device) and
// leaves room for the largest LOAD: "LOAD 1299 " + 2 * kMaxChunk hex digits + " *XXXX" = 528 bytes, AUDIO
// ("AUDIO 31999 ...", 530 bytes) and the FEATURES reply ("OK FEATURES 1280 ...", 535 bytes).
constexpr size_t kMaxLine = 600;

// Largest LOAD or AUDIO payload and FEATURES reply in bytes: 512 hex digits keep a LOAD line well under kMaxLine.
constexpr size_t kMaxChunk = 256;

// Separator between a line's body and its CRC, and the CRC's length in hex digits.
constexpr char kCrcSeparator[] = " *";
constexpr size_t kCrcSeparatorLen = 2;
constexpr size_t kCrcHexDigits = 4;

// Lines starting with this are human commentary: no CRC, ignored by the host.
constexpr char kCommentPrefix[] = "# ";

// Command words (host -> device).
constexpr char kCmdHello[] = "HELLO";
constexpr char kCmdLoad[] = "LOAD";
constexpr char kCmdInfer[] = "INFER";
constexpr char kCmdSelftest[] = "SELFTEST";
constexpr char kCmdStream[] = "STREAM";
constexpr char kCmdStop[] = "STOP";
constexpr char kCmdAudio[] = "AUDIO";
constexpr char kCmdHear[] = "HEAR";
constexpr char kCmdFeatures[] = "FEATURES";

// The answer= of INFER and HEAR (data/nothing.py: the host's words are the same): the top label is a word, a
// "nothing" class (a label starting with '_'), or a word whose score is below the model's kMinWordScore.
constexpr char kAnswerWord[] = "word";
constexpr char kAnswerNotAWord[] = "not-a-word";
constexpr char kAnswerLowConfidence[] = "low-confidence";

// Reply words (device -> host).
constexpr char kBoot[] = "BOOT";
constexpr char kOk[] = "OK";
constexpr char kErr[] = "ERR";

// Error codes, in the order of PROTOCOL.md's table.
enum class Error {
  kNone,
  kTooLong,
  kCrc,
  kNoCrc,
  kUnknown,
  kSyntax,
  kOrder,
  kRange,
  kIncomplete,
  kInvoke,
};

// The code word sent after "ERR " for an error.
constexpr const char* ErrorCode(Error error) {
  switch (error) {
    case Error::kTooLong: return "too-long";
    case Error::kCrc: return "crc";
    case Error::kNoCrc: return "no-crc";
    case Error::kUnknown: return "unknown";
    case Error::kSyntax: return "syntax";
    case Error::kOrder: return "order";
    case Error::kRange: return "range";
    case Error::kIncomplete: return "incomplete";
    case Error::kInvoke: return "invoke";
    case Error::kNone: break;
  }
  return "";
}

}  // namespace proto
