#include "listen/audio_ring.h"

#include "tests/micro_test.h"

namespace {
constexpr size_t kCapacity = 16;
}

TEST(AudioRingCopiesTheSamplesBeforeEnd) {
  int16_t storage[kCapacity];
  AudioRing ring(storage, kCapacity);
  int16_t samples[10];
  for (int16_t i = 0; i < 10; ++i) samples[i] = static_cast<int16_t>(100 + i);
  ring.Write(samples, 10);
  EXPECT_EQ(ring.written(), 10u);
  int16_t out[4] = {};
  EXPECT_TRUE(ring.Copy(7, 4, 0, out));
  EXPECT_EQ(out[0], 103);
  EXPECT_EQ(out[3], 106);
}

TEST(AudioRingRefusesFutureAndTooEarlyWindows) {
  int16_t storage[kCapacity];
  AudioRing ring(storage, kCapacity);
  int16_t samples[5] = {1, 2, 3, 4, 5};
  ring.Write(samples, 5);
  int16_t out[4];
  EXPECT_TRUE(!ring.Copy(6, 4, 0, out));  // sample 5 not written yet
  EXPECT_TRUE(!ring.Copy(3, 4, 0, out));  // would start before sample 0
  EXPECT_TRUE(ring.Copy(5, 4, 0, out));
  EXPECT_EQ(out[0], 2);
}

TEST(AudioRingWrapsAndRefusesOverwrittenSamples) {
  int16_t storage[kCapacity];
  AudioRing ring(storage, kCapacity);
  int16_t block[5];
  for (int16_t n = 0; n < 10; ++n) {  // 50 samples: the ring wrapped three times
    for (int16_t i = 0; i < 5; ++i) block[i] = static_cast<int16_t>(n * 5 + i);
    ring.Write(block, 5);
  }
  int16_t out[8];
  EXPECT_TRUE(ring.Copy(50, 8, 4, out));
  EXPECT_EQ(out[0], 42);
  EXPECT_EQ(out[7], 49);
  EXPECT_TRUE(ring.Copy(46, 8, 4, out));   // 4 behind: exactly the slack left by count + guard
  EXPECT_EQ(out[0], 38);
  EXPECT_TRUE(!ring.Copy(45, 8, 4, out));  // its first sample may be overwritten while copying
  EXPECT_TRUE(!ring.Copy(50, 8, 9, out));  // count + guard larger than the ring
}

TEST(AudioRingNeedsAPowerOfTwo) {
  int16_t storage[12];
  AudioRing ring(storage, 12);
  int16_t out[2];
  EXPECT_TRUE(!ring.Copy(0, 0, 0, out));
}

TEST(AudioRingResetStartsOver) {
  int16_t storage[kCapacity];
  AudioRing ring(storage, kCapacity);
  int16_t samples[3] = {7, 8, 9};
  ring.Write(samples, 3);
  ring.Reset();
  EXPECT_EQ(ring.written(), 0u);
}

TEST(AudioRingCopiesLongWindowsAcrossTheEndWordsOrNot) {
  // Windows of 40 samples out of a 64-sample ring written in blocks of 13: every start (even ones are copied a
  // word at a time, odd ones sample by sample), before and across the end of the storage.
  alignas(4) int16_t storage[64];
  AudioRing ring(storage, 64);
  int16_t block[13];
  for (int16_t n = 0; n < 15; ++n) {  // 195 samples
    for (int16_t i = 0; i < 13; ++i) block[i] = static_cast<int16_t>(n * 13 + i);
    ring.Write(block, 13);
    for (uint32_t end = 40; end <= ring.written(); ++end) {
      alignas(4) int16_t out[40] = {};
      if (!ring.Copy(end, 40, 0, out)) continue;  // already overwritten
      bool same = true;
      for (int i = 0; i < 40; ++i) same = same && out[i] == static_cast<int16_t>(end - 40 + i);
      EXPECT_TRUE(same);
    }
  }
  EXPECT_EQ(storage[195 % 64 - 1], 194);
}
