// Mock audio provider: plays a clip into the ring one block per Pump(), as fast as the loop asks (the simulator
// runs faster than real time; timestamps are sample counts, so results do not depend on the host's speed).
#include "listen/audio_provider.h"
#include "listen/audio_provider_mock.h"

namespace {
alignas(4) int16_t g_storage[audio_provider::kRingSamples];
AudioRing g_ring(g_storage, audio_provider::kRingSamples);
const int16_t* g_clip = nullptr;
size_t g_clip_len = 0;
size_t g_played = 0;
}  // namespace

namespace audio_provider_mock {
void SetClip(const int16_t* samples, size_t count) {
  g_clip = samples;
  g_clip_len = count;
}
}  // namespace audio_provider_mock

namespace audio_provider {

const char* Init() {
  if (g_clip == nullptr) return "no clip to play (audio_provider_mock::SetClip)";
  g_ring.Reset();
  g_played = 0;
  return nullptr;
}

void Pump() {
  if (g_clip == nullptr || g_played >= g_clip_len) return;
  const size_t left = g_clip_len - g_played;
  const size_t n = left < audio_provider_mock::kBlockSamples ? left : audio_provider_mock::kBlockSamples;
  g_ring.Write(g_clip + g_played, n);
  g_played += n;
}

bool Ended() { return g_clip == nullptr || g_played >= g_clip_len; }

const AudioRing& Ring() { return g_ring; }

}  // namespace audio_provider
