#include "listen/audio_provider_mock.h"

#include <vector>

#include "listen/audio_provider.h"
#include "tests/micro_test.h"

TEST(MockProviderPlaysTheClipBlockByBlock) {
  std::vector<int16_t> clip(audio_provider_mock::kBlockSamples * 2 + 10);
  for (size_t i = 0; i < clip.size(); ++i) clip[i] = static_cast<int16_t>(i);
  audio_provider_mock::SetClip(clip.data(), clip.size());
  EXPECT_TRUE(audio_provider::Init() == nullptr);
  EXPECT_EQ(audio_provider::Ring().written(), 0u);
  audio_provider::Pump();
  EXPECT_EQ(audio_provider::Ring().written(), static_cast<uint32_t>(audio_provider_mock::kBlockSamples));
  EXPECT_TRUE(!audio_provider::Ended());
  audio_provider::Pump();
  audio_provider::Pump();
  EXPECT_EQ(audio_provider::Ring().written(), static_cast<uint32_t>(clip.size()));
  EXPECT_TRUE(audio_provider::Ended());
  int16_t last[3];
  EXPECT_TRUE(audio_provider::Ring().Copy(static_cast<uint32_t>(clip.size()), 3, 0, last));
  EXPECT_EQ(last[2], static_cast<int16_t>(clip.size() - 1));
}
