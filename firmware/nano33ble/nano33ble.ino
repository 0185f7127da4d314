// Arduino CLI entry of the firmware. `make firmware-arduino` assembles this sketch and the board's sources into
// build/firmware/arduino/nano33ble/ (sources under src/); setup() and loop() are in src/app/main_arduino.cpp.
// The include makes Arduino CLI's library discovery link the pinned TensorFlow Lite Micro library that
// `make firmware-arduino` generates into build/arduino-libs/ (firmware/tools/tflm_arduino_lib.py).
#include <tflite_micro.h>
