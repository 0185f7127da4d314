#include "listen/audio_ring.h"

void AudioRing::Write(const int16_t* samples, size_t count) {
  const uint32_t pos = written_;
  for (size_t i = 0; i < count; ++i) storage_[(pos + i) & (capacity_ - 1)] = samples[i];
  // The samples are in place before the consumer can see the new count.
  __asm__ __volatile__("" ::: "memory");
  written_ = pos + static_cast<uint32_t>(count);
}

bool AudioRing::Copy(uint32_t end, size_t count, size_t guard, int16_t* out) const {
  const uint32_t now = written_;
  if (capacity_ == 0 || (capacity_ & (capacity_ - 1)) != 0 || count + guard > capacity_) return false;
  // Unsigned differences stay valid across one wrap of the counter; `end` in the future gives a huge `behind`.
  const uint32_t behind = now - end;
  if (behind > capacity_ - count - guard) return false;
  // Before the first `count` samples (the counter has not wrapped yet then).
  if (now < capacity_ && end < count) return false;
  const uint32_t start = end - static_cast<uint32_t>(count);
  for (size_t i = 0; i < count; ++i) out[i] = storage_[(start + i) & (capacity_ - 1)];
  return true;
}
