// Arduino CLI entry of the firmware. `make firmware-arduino` assembles this sketch and the image's sources
// (firmware/sources.mk) into build/firmware/arduino/<board>-<engine>/ (sources under src/); setup() and loop() are in
// src/app/main_arduino.cpp (main_listen_arduino.cpp on the Sense). Nothing is included here: the TFLM build pulls in
// its library from src/platform/tflm_port_arduino.cpp, the native engine needs none.
