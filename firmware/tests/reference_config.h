// PROTOCOL.md's reference device configuration, used with the reference fake inference by the golden vectors.
#pragma once

#include "core/device.h"

namespace reference {

constexpr uint32_t kFrames = 100;
constexpr uint32_t kCoeffs = 13;
constexpr uint32_t kInputBytes = kFrames * kCoeffs;
constexpr uint32_t kLabels = 10;
// Raw audio: one second at 16 kHz.
constexpr uint32_t kAudioSamples = 16000;
constexpr uint32_t kAudioRate = 16000;

// The configuration; `inference_error` may be set by a test to simulate a failed model check.
DeviceConfig Config();

}  // namespace reference
