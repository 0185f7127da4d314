// Input buffer: assembles one clip of int8 features from LOAD chunks (PROTOCOL.md, "LOAD").
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/protocol.h"

struct LoadResult {
  proto::Error error = proto::Error::kNone;
  // kNone: the new fill count; kOrder: the expected offset; kRange: the most bytes this LOAD may carry.
  size_t value = 0;
};

class InputBuffer {
 public:
  // `storage` (owned by the caller, statically allocated on the device) holds exactly one clip.
  InputBuffer(int8_t* storage, size_t capacity) : storage_(storage), capacity_(capacity) {}

  // Appends the bytes of `hex_len` hex digits (already validated) at `offset`. Offset 0 starts a new clip;
  // any other offset must equal filled(). On error the buffer is left unchanged.
  LoadResult Load(uint32_t offset, const char* hex, size_t hex_len);

  size_t filled() const { return filled_; }
  size_t capacity() const { return capacity_; }
  bool Complete() const { return filled_ == capacity_; }
  const int8_t* data() const { return storage_; }
  // Where a producer other than Load() (the audio front end) writes a whole clip.
  int8_t* mutable_data() { return storage_; }
  void Clear() { filled_ = 0; }

 private:
  int8_t* storage_;
  size_t capacity_;
  size_t filled_ = 0;
};
