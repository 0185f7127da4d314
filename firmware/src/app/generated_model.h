// The files `make quantize` generates (build/gen/, copied into src/generated/ by `make firmware`). Never edit them.
#pragma once

#if !__has_include("generated/model_settings.h") || !__has_include("generated/model_data.h") || \
    !__has_include("generated/selftest_data.h")
#error "Generated model files missing: run `make quantize`, then build with `make firmware` (it copies build/gen/ into firmware/src/generated/)."
#endif

#include "generated/model_data.h"
#include "generated/model_settings.h"
#include "generated/selftest_data.h"

static_assert(kInputBytes == kNumFrames * kNumCoeffs, "model_settings.h: input size mismatch");
