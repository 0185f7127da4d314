// Audio provider of the Nano 33 BLE Sense: its MP34DT05 PDM microphone through the Arduino mbed core's PDM library,
// 16 kHz mono int16. The library's interrupt calls OnPdmData() with each block; it goes straight into the ring
// (single producer; the loop copies windows that end before the newest block, see AudioRing::Copy).
// <chrono> before Arduino.h: PDM.h pulls in mbed-os's RTOS headers, whose <chrono> use breaks on Arduino.h's abs
// macro under the firmware's C++17 (the board check compiles this file with the core's recipe).
#include <chrono>

#include <Arduino.h>
#include <PDM.h>

#include "listen/audio_provider.h"

namespace {
constexpr int kChannels = 1;
// PDM gain (0..80 on the nRF52840; the library's default is 20): what the micro_speech example uses on this board.
constexpr int kGain = 20;
// Largest block the PDM library hands over at once: its buffer of 512 bytes by default.
constexpr size_t kBlockSamples = audio_provider::kGuardSamples;

alignas(4) int16_t g_storage[audio_provider::kRingSamples];
AudioRing g_ring(g_storage, audio_provider::kRingSamples);
int16_t g_block[kBlockSamples];

void OnPdmData() {
  int bytes = PDM.available();
  if (bytes <= 0) return;
  if (static_cast<size_t>(bytes) > sizeof(g_block)) bytes = sizeof(g_block);
  const int got = PDM.read(g_block, bytes);
  if (got > 0) g_ring.Write(g_block, static_cast<size_t>(got) / sizeof(int16_t));
}
}  // namespace

namespace audio_provider {

const char* Init() {
  PDM.onReceive(OnPdmData);
  if (!PDM.begin(kChannels, kSampleRate)) return "PDM microphone did not start (is this a Nano 33 BLE Sense?)";
  PDM.setGain(kGain);
  return nullptr;
}

void Pump() {}

bool Ended() { return false; }

const AudioRing& Ring() { return g_ring; }

}  // namespace audio_provider
