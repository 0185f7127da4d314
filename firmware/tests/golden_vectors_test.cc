// Runs firmware/protocol/golden_vectors.txt against the core linked with the reference fake inference.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/device.h"
#include "platform/platform_host.h"
#include "tests/micro_test.h"
#include "tests/reference_config.h"

namespace {

struct Vector {
  int line = 0;
  std::string name;
  std::string host;
  std::string device;
};

// Undoes the C escapes of the file format; false on a malformed escape.
bool Unescape(const std::string& text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      *out += text[i];
      continue;
    }
    if (++i == text.size()) return false;
    switch (text[i]) {
      case 'n': *out += '\n'; break;
      case 'r': *out += '\r'; break;
      case 't': *out += '\t'; break;
      case '\\': *out += '\\'; break;
      case 'x': {
        if (i + 2 >= text.size()) return false;
        const std::string digits = text.substr(i + 1, 2);
        if (digits.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
          return false;
        }
        *out += static_cast<char>(std::stoi(digits, nullptr, 16));
        i += 2;
        break;
      }
      default: return false;
    }
  }
  return true;
}

std::vector<Vector> LoadVectors(const char* path) {
  std::vector<Vector> vectors;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    micro_test::Fail(__FILE__, __LINE__, std::string("cannot open ") + path);
    return vectors;
  }
  std::string line;
  int number = 0;
  while (std::getline(file, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    const size_t tab1 = line.find('\t');
    const size_t tab2 = tab1 == std::string::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string::npos || line.find('\t', tab2 + 1) != std::string::npos) {
      micro_test::Fail(__FILE__, __LINE__, "line " + std::to_string(number) + ": not three TAB-separated fields");
      continue;
    }
    Vector vector;
    vector.line = number;
    vector.name = line.substr(0, tab1);
    if (!Unescape(line.substr(tab1 + 1, tab2 - tab1 - 1), &vector.host) ||
        !Unescape(line.substr(tab2 + 1), &vector.device)) {
      micro_test::Fail(__FILE__, __LINE__, "line " + std::to_string(number) + ": bad escape");
      continue;
    }
    vectors.push_back(vector);
  }
  return vectors;
}

std::string Printable(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7F) {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

TEST(GoldenVectors) {
  const std::vector<Vector> vectors = LoadVectors(micro_test::g_golden_path);
  EXPECT_TRUE(vectors.size() >= 40);
  const DeviceConfig config = reference::Config();
  EXPECT_TRUE(Device::ValidateConfig(config) == nullptr);
  static int8_t input[reference::kInputBytes];
  static int16_t audio[reference::kAudioSamples];
  Device device(config, input, audio);
  std::string output;
  platform_host::CaptureOutput(&output);
  device.Boot();  // boot output is not part of the vectors
  for (const Vector& vector : vectors) {
    output.clear();
    for (char c : vector.host) device.HandleByte(static_cast<uint8_t>(c));
    device.Idle();  // one idle step after each vector (PROTOCOL.md, "Golden vectors")
    if (output != vector.device) {
      micro_test::Fail(__FILE__, __LINE__,
                       "vector '" + vector.name + "' (line " + std::to_string(vector.line) + ")\n  expected: " +
                           Printable(vector.device) + "\n  actual:   " + Printable(output));
    }
  }
  platform_host::CaptureOutput(nullptr);
}
