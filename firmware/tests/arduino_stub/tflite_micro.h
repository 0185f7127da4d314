// Test double of the TFLM Arduino library's marker header (firmware/tools/tflm_arduino_lib.py writes the real one).
#pragma once
