// Host simulator of the continuous listener: plays a 16 kHz mono 16-bit PCM WAV file through the mock audio
// provider, prints the "# heard ..." lines, then "# played <ms> ms" and exits.
//   build/firmware/listen/listen_sim recording.wav
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/line_writer.h"
#include "core/platform.h"
#include "listen/audio_provider.h"
#include "listen/audio_provider_mock.h"
#include "listen/listen.h"

namespace {

// The longest recording accepted (4 hours at 16 kHz), so a wrong file cannot exhaust memory.
constexpr size_t kMaxSamples = 16000u * 3600u * 4u;

uint32_t Le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
uint16_t Le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

// The samples of a canonical PCM WAV file (RIFF chunks "fmt " and "data"), or an empty string and the reason.
std::string ReadWav(const char* path, std::vector<int16_t>* samples) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return "cannot open the file";
  std::vector<unsigned char> bytes;
  unsigned char buffer[65536];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0;) {
    bytes.insert(bytes.end(), buffer, buffer + n);
    if (bytes.size() > kMaxSamples * 2 + 4096) break;
  }
  std::fclose(f);
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(&bytes[8], "WAVE", 4) != 0) {
    return "not a RIFF/WAVE file";
  }
  bool have_fmt = false;
  for (size_t pos = 12; pos + 8 <= bytes.size();) {
    const uint32_t size = Le32(&bytes[pos + 4]);
    const unsigned char* body = &bytes[pos + 8];
    if (size > bytes.size() - pos - 8) return "truncated chunk";
    if (std::memcmp(&bytes[pos], "fmt ", 4) == 0 && size >= 16) {
      if (Le16(body) != 1 || Le16(body + 2) != 1 || Le32(body + 4) != audio_provider::kSampleRate ||
          Le16(body + 14) != 16) {
        return "not 16 kHz mono 16-bit PCM";
      }
      have_fmt = true;
    } else if (std::memcmp(&bytes[pos], "data", 4) == 0) {
      if (!have_fmt) return "data before the fmt chunk";
      if (size / 2 > kMaxSamples) return "longer than 4 hours";
      samples->resize(size / 2);
      for (size_t i = 0; i < samples->size(); ++i) (*samples)[i] = static_cast<int16_t>(Le16(body + 2 * i));
      return "";
    }
    pos += 8 + size + (size & 1);
  }
  return "no data chunk";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <16 kHz mono 16-bit WAV>\n", argv[0]);
    return 2;
  }
  std::vector<int16_t> samples;
  const std::string error = ReadWav(argv[1], &samples);
  if (!error.empty()) {
    std::fprintf(stderr, "error: %s: %s\n", argv[1], error.c_str());
    return 2;
  }
  audio_provider_mock::SetClip(samples.data(), samples.size());
  if (!listen::Setup()) return 1;
  while (listen::Loop()) {
  }
  LineWriter writer;
  writer.Put("# played ").PutUint(static_cast<uint32_t>(samples.size() * 1000 / audio_provider::kSampleRate))
      .Put(" ms");
  if (writer.FinishComment()) platform::Write(writer.data(), writer.size());
  return 0;
}
