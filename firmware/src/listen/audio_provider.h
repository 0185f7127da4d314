// Audio provider: where the continuous listener's audio comes from (micro_speech's idea). Exactly one
// implementation is linked: audio_provider_pdm.cc on the Nano 33 BLE Sense (its PDM microphone), audio_provider_mock.cc
// on the host simulator and in tests (a clip played into the ring as if it were captured).
#pragma once

#include <cstddef>
#include <cstdint>

#include "listen/audio_ring.h"

namespace audio_provider {

// 16 kHz mono int16: the model's sample rate.
constexpr uint32_t kSampleRate = 16000;
// Samples the ring keeps (2.048 s, a power of two): the 1 s window plus whatever arrives while the loop is busy
// with an inference.
constexpr size_t kRingSamples = 32768;
// Samples the producer may add while the consumer copies a window (one PDM block of the board).
constexpr size_t kGuardSamples = 512;

// Starts capturing; nullptr on success, otherwise a short reason for the log.
const char* Init();

// Moves newly available audio into the ring. The board's microphone interrupt fills it by itself; the mock
// appends its next block of the clip. Called once per loop.
void Pump();

// True once no more audio will come (the mock's clip has been played); never on the board.
bool Ended();

// The ring holding the newest captured samples (absolute sample indices since Init()).
const AudioRing& Ring();

}  // namespace audio_provider
