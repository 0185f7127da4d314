// Platform hooks for the Arduino Nano 33 BLE (nRF52840, Cortex-M4F) with the Arduino mbed core.
#include <Arduino.h>

#include "core/platform.h"

namespace {

// USB CDC ignores the baud rate; 115200 8-N-1 is what PROTOCOL.md names for other transports.
constexpr unsigned long kBaudRate = 115200;
// How long setup waits for a host to open the USB port, so that BOOT is not lost right after a reset;
// bounded so that a board without a host (on a charger) still starts.
constexpr unsigned long kSerialWaitMillis = 3000;

// ARMv7-M debug registers (the same on every Cortex-M3/M4/M7): DEMCR enables tracing, the DWT counts cycles.
volatile uint32_t* const kDemcr = reinterpret_cast<volatile uint32_t*>(0xE000EDFCu);
volatile uint32_t* const kDwtCtrl = reinterpret_cast<volatile uint32_t*>(0xE0001000u);
volatile uint32_t* const kDwtCyccnt = reinterpret_cast<volatile uint32_t*>(0xE0001004u);
constexpr uint32_t kDemcrTraceEnable = 1u << 24;
constexpr uint32_t kDwtCtrlCycleCountEnable = 1u << 0;

}  // namespace

namespace platform {

void Init() {
  pinMode(LED_BUILTIN, OUTPUT);
  digitalWrite(LED_BUILTIN, LOW);
  Serial.begin(kBaudRate);
  const unsigned long start = millis();
  while (!Serial && millis() - start < kSerialWaitMillis) {
  }
  *kDemcr |= kDemcrTraceEnable;
  *kDwtCyccnt = 0;
  *kDwtCtrl |= kDwtCtrlCycleCountEnable;
}

int ReadByte() { return Serial.available() > 0 ? Serial.read() : -1; }

void Write(const char* data, size_t len) { Serial.write(reinterpret_cast<const uint8_t*>(data), len); }

uint32_t MicrosNow() { return micros(); }

uint32_t CyclesNow() { return *kDwtCyccnt; }

void SetLed(bool on) { digitalWrite(LED_BUILTIN, on ? HIGH : LOW); }

}  // namespace platform
