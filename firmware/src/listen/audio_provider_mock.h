// Extras of audio_provider_mock.cc: which clip it plays (the host simulator reads a WAV file, tests pass samples).
#pragma once

#include <cstddef>
#include <cstdint>

namespace audio_provider_mock {

// Samples the mock appends per Pump(), as the board's PDM interrupt delivers them.
constexpr size_t kBlockSamples = 256;

// The clip to play from the next Init(): 16 kHz mono; the caller keeps `samples` alive while it plays.
void SetClip(const int16_t* samples, size_t count);

}  // namespace audio_provider_mock
