// Arduino entry points (the Arduino core supplies main()).
#include "app/app.h"

void setup() { app::Setup(); }

void loop() { app::Loop(); }
