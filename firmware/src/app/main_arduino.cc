// Arduino entry points (the Arduino core supplies main()). Arduino.h declares setup() and loop() with C linkage,
// which is what the core's main() calls: without the include they would be C++ functions and the link would fail
// with "undefined reference to `setup'" (make firmware-board-check tests this).
#include <Arduino.h>

#include "app/app.h"

void setup() { app::Setup(); }

void loop() { app::Loop(); }
