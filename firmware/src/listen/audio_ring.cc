#include "listen/audio_ring.h"

namespace {

// Words that may alias the int16 samples they are copied as.
typedef uint32_t __attribute__((may_alias)) Word;

// Copies `count` samples: eight at a time as words when both ends are word-aligned (the listener's windows start
// on even samples), the rest one by one. A window is copied every hop: a sample at a time cost 10 instructions.
void CopySamples(const int16_t* from, size_t count, int16_t* to) {
  if (((reinterpret_cast<uintptr_t>(from) | reinterpret_cast<uintptr_t>(to)) & 3u) == 0) {
    const Word* in = reinterpret_cast<const Word*>(from);
    Word* out = reinterpret_cast<Word*>(to);
    for (; count >= 8; count -= 8, in += 4, out += 4) {
      const Word a = in[0], b = in[1], c = in[2], d = in[3];
      out[0] = a;
      out[1] = b;
      out[2] = c;
      out[3] = d;
    }
    from = reinterpret_cast<const int16_t*>(in);
    to = reinterpret_cast<int16_t*>(out);
  }
  for (; count > 0; --count) *to++ = *from++;
}

}  // namespace

void AudioRing::Write(const int16_t* samples, size_t count) {
  const uint32_t pos = written_;
  const size_t at = pos & (capacity_ - 1);
  const size_t first = capacity_ - at < count ? capacity_ - at : count;  // up to the end of the storage
  CopySamples(samples, first, storage_ + at);
  CopySamples(samples + first, count - first, storage_);
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
  const size_t at = (end - static_cast<uint32_t>(count)) & (capacity_ - 1);
  const size_t first = capacity_ - at < count ? capacity_ - at : count;  // up to the end of the storage
  CopySamples(storage_ + at, first, out);
  CopySamples(storage_, count - first, out + first);
  return true;
}
