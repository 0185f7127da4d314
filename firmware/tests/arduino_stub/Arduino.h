// Host stand-in for the parts of the Arduino core that src/platform/tflm_port_arduino.cc uses, so that its log
// formatting can be tested against the C library's vsnprintf (tflm_port_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct StubSerial {
  std::string written;
  size_t write(uint8_t c) {
    written.push_back(static_cast<char>(c));
    return 1;
  }
  size_t write(const uint8_t* data, size_t len) {
    written.append(reinterpret_cast<const char*>(data), len);
    return len;
  }
};

extern StubSerial Serial;
unsigned long micros();
