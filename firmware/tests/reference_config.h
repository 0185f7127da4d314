// PROTOCOL.md's reference device configuration, used with the reference fake inference by the golden vectors.
#pragma once

#include "core/device.h"

namespace reference {

constexpr uint32_t kFrames = 100;
constexpr uint32_t kCoeffs = 13;
constexpr uint32_t kInputBytes = kFrames * kCoeffs;
constexpr uint32_t kLabels = 10;

// The configuration; `inference_error` may be set by a test to simulate a failed model check.
DeviceConfig Config();

}  // namespace reference
