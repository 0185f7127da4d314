// Audio ring buffer: the newest samples of a single producer (the microphone's interrupt, or the mock provider)
// for one consumer (the recognition loop), addressed by absolute sample index since the start.
#pragma once

#include <cstddef>
#include <cstdint>

class AudioRing {
 public:
  // `storage` (owned by the caller, statically allocated on the device) keeps the last `capacity` samples;
  // `capacity` must be a power of two, so that positions stay continuous when the sample count wraps.
  AudioRing(int16_t* storage, size_t capacity) : storage_(storage), capacity_(capacity) {}

  // Producer: appends samples (oldest overwritten). Safe against a consumer in another context: the sample count
  // is published after the samples.
  void Write(const int16_t* samples, size_t count);

  // Forgets every sample (a new recording starts at index 0).
  void Reset() { written_ = 0; }

  // Samples written since the start (wraps after 2^32 samples, 74 hours at 16 kHz; differences stay valid).
  uint32_t written() const { return written_; }
  size_t capacity() const { return capacity_; }

  // Copies the `count` samples that end before absolute index `end` into `out`, oldest first. False when they
  // are not all in the ring: not written yet, before the start, or already overwritten (with a margin of `guard`
  // samples that a producer may write while the copy runs), or the capacity is not a power of two.
  bool Copy(uint32_t end, size_t count, size_t guard, int16_t* out) const;

 private:
  int16_t* storage_;
  size_t capacity_;
  volatile uint32_t written_ = 0;
};
