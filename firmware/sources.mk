# THE source lists of every firmware image: make (firmware.mk includes this file), PlatformIO (tools/pio_sources.py,
# an extra script of platformio.ini) and the offline board check (tools/board_check.py) read them from here, so a
# new source file is added once, to the component it belongs to; a new component goes into the images that link it.
#
# Paths are relative to firmware/; `generated/<file>` is a file of the generated model (`make quantize` writes it
# into build/gen/; every build copies it into a `generated/` folder of its own: firmware.mk's FW_GEN_COPY).
# An image is IMAGE_<target>_<engine>, ENGINE=native|tflm (firmware.mk), target: nano33ble (the serial protocol),
# nano33ble_sense (the listener), emu and emu_listen (QEMU mps2-an386), host and host_listen (the host simulators).
# Headers are not listed: the board sketch takes every header under src/.
# Syntax, kept this small because tools/sources.py parses it too: `NAME := words`, `\` continuations, `#` comments,
# `$(NAME)` of a name defined above.

# ---- components --------------------------------------------------------------------------------------------------
FW_CORE_SRCS := src/core/crc16.cc src/core/command.cc src/core/line_reader.cc src/core/line_writer.cc \
                src/core/input_buffer.cc src/core/device.cc
# What the listener takes of the core: the checksum and the line writer of its "# heard" lines.
FW_LISTEN_CORE_SRCS := src/core/crc16.cc src/core/line_writer.cc
FW_FRONTEND_SRCS := src/frontend/frontend.cc src/frontend/audio_frontend.cc
FW_LISTEN_SRCS := src/listen/audio_ring.cc src/listen/recognize_commands.cc src/listen/listen.cc \
                  src/frontend/frontend.cc
# The serial protocol's application (PROTOCOL.md) and its self-test clips.
FW_APP_SRCS := src/app/app.cc generated/selftest_data.cc

# The inference engines: sources and generated model. The native engine is the model compiled to C
# (quantize/native.py); TFLM interprets the flatbuffer with the pinned TFLM library.
FW_ENGINE_native := src/inference/inference_native.cc src/native/kernels.cc generated/native_model.cc
FW_ENGINE_tflm := src/inference/inference_tflm.cc generated/model_data.cc
# Every generated file a build of the engine copies (headers included: generated_model.h includes model_data.h).
FW_GEN_FILES_native := model_data.h model_settings.h selftest_data.h selftest_data.cc native_model.h native_model.cc
FW_GEN_FILES_tflm := model_data.h model_settings.h selftest_data.h selftest_data.cc model_data.cc
# Written by `make quantize` instead of native_model.* when the model needs what the native engine lacks: the reason.
FW_GEN_NATIVE_UNSUPPORTED := native_unsupported.txt

# ---- the board (Arduino Nano 33 BLE / BLE Sense, Arduino mbed core) ------------------------------------------------
FW_ARDUINO_SRCS := src/platform/platform_arduino.cc
# TFLM's log and timer hooks on the board (TFLM's generic Cortex-M port does not build against the mbed core).
FW_ARDUINO_TFLM_SRCS := src/platform/tflm_port_arduino.cc
FW_SERIAL_ARDUINO := $(FW_CORE_SRCS) $(FW_FRONTEND_SRCS) $(FW_APP_SRCS) $(FW_ARDUINO_SRCS) src/app/main_arduino.cc
FW_LISTEN_ARDUINO := $(FW_LISTEN_SRCS) $(FW_LISTEN_CORE_SRCS) $(FW_ARDUINO_SRCS) src/listen/audio_provider_pdm.cc \
                     src/app/main_listen_arduino.cc
IMAGE_nano33ble_native := $(FW_SERIAL_ARDUINO) $(FW_ENGINE_native)
IMAGE_nano33ble_tflm := $(FW_SERIAL_ARDUINO) $(FW_ENGINE_tflm) $(FW_ARDUINO_TFLM_SRCS)
IMAGE_nano33ble_sense_native := $(FW_LISTEN_ARDUINO) $(FW_ENGINE_native)
IMAGE_nano33ble_sense_tflm := $(FW_LISTEN_ARDUINO) $(FW_ENGINE_tflm) $(FW_ARDUINO_TFLM_SRCS)

# ---- the emulated board (QEMU mps2-an386: startup, linker script, syscalls in firmware/emu/) -------------------------
FW_MPS2_SRCS := src/platform/platform_mps2.cc emu/startup.c emu/syscalls.c
FW_MPS2_TFLM_SRCS := emu/tflm_port.cc
FW_SERIAL_MPS2 := $(FW_CORE_SRCS) $(FW_FRONTEND_SRCS) $(FW_APP_SRCS) $(FW_MPS2_SRCS) emu/main_emu.cc
# The listener plays a clip that QEMU loads into the board's memory (the mock audio provider).
FW_LISTEN_MPS2 := $(FW_LISTEN_SRCS) $(FW_LISTEN_CORE_SRCS) $(FW_MPS2_SRCS) src/listen/audio_provider_mock.cc \
                  emu/main_listen_emu.cc
IMAGE_emu_native := $(FW_SERIAL_MPS2) $(FW_ENGINE_native)
IMAGE_emu_tflm := $(FW_SERIAL_MPS2) $(FW_ENGINE_tflm) $(FW_MPS2_TFLM_SRCS)
IMAGE_emu_listen_native := $(FW_LISTEN_MPS2) $(FW_ENGINE_native)
IMAGE_emu_listen_tflm := $(FW_LISTEN_MPS2) $(FW_ENGINE_tflm) $(FW_MPS2_TFLM_SRCS)

# ---- the host simulators (stdin/stdout; the host TFLM tree brings its own log and timer) --------------------------
FW_SERIAL_HOST := $(FW_CORE_SRCS) $(FW_FRONTEND_SRCS) $(FW_APP_SRCS) src/platform/platform_host.cc \
                  src/app/main_host.cc
FW_LISTEN_HOST := $(FW_LISTEN_SRCS) $(FW_LISTEN_CORE_SRCS) src/platform/platform_host.cc \
                  src/listen/audio_provider_mock.cc src/app/main_listen_host.cc
IMAGE_host_native := $(FW_SERIAL_HOST) $(FW_ENGINE_native)
IMAGE_host_tflm := $(FW_SERIAL_HOST) $(FW_ENGINE_tflm)
IMAGE_host_listen_native := $(FW_LISTEN_HOST) $(FW_ENGINE_native)
IMAGE_host_listen_tflm := $(FW_LISTEN_HOST) $(FW_ENGINE_tflm)
