// Arduino CLI entry of the firmware. `make firmware-arduino` copies this sketch and the board's sources into
// build/firmware/arduino/nano33ble/ (sources under src/); setup() and loop() are in src/app/main_arduino.cpp.
// The include makes the Arduino library discovery pick the pinned TensorFlow Lite Micro library.
#include <Chirale_TensorFlowLite.h>
