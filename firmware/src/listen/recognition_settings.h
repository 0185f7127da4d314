// Continuous recognition settings: the firmware's copy of config.toml [recognition] (tests/test_recognize.py checks
// that every value here equals config.toml's, and host/recognize.py reads config.toml: both sides decide alike).
#pragma once

#include <cstdint>

// The model sees the newest kWindowMs of audio every kEvaluateEveryMs.
constexpr uint32_t kWindowMs = 1000;
constexpr uint32_t kEvaluateEveryMs = 250;
// Scores are averaged over the results of the last kAverageWindowMs (at least kMinimumCount of them).
constexpr uint32_t kAverageWindowMs = 750;
constexpr int kMinimumCount = 3;
// A digit is heard when its averaged probability reaches kDetectionThreshold; then nothing for kRefractoryMs.
constexpr float kDetectionThreshold = 0.6f;
constexpr uint32_t kRefractoryMs = 1500;
