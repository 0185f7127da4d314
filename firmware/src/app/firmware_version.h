#pragma once

// Reported in BOOT and HELLO; bump with every firmware release (the model has its own hash).
constexpr char kFirmwareVersion[] = "0.1.0";
