// Arduino entry points of the Nano 33 BLE Sense's continuous listener (the Sense build links this file instead of
// main_arduino.cc): the microphone, the front end and the model on the board, "# heard ..." lines on the USB serial
// port (any serial monitor, 115200 baud). See main_arduino.cc for why Arduino.h is included.
#include <Arduino.h>

#include "listen/listen.h"

void setup() { listen::Setup(); }

void loop() { listen::Loop(); }
