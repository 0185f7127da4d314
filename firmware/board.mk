# Board builds for the Arduino Nano 33 BLE (Arduino mbed core, FQBN arduino:mbed_nano:nano33ble), included by
# firmware.mk. ENGINE=native (default) builds the model compiled to C and links no TFLM; ENGINE=tflm the pinned TFLM
# tree $(TFLM_CM4), packaged as a library into build/arduino-libs/. C++17 for the firmware and TFLM only, the core at
# its own gnu++14; float ABI softfp as the core (firmware/tools/arduino_recipe.py). The sources of each board and
# engine: IMAGE_<board>_<engine> of firmware/sources.mk.
#   make firmware             PlatformIO build (needs `make quantize`; internet once for PlatformIO's platform)
#   make flash [PORT=...]     upload with PlatformIO
#   make firmware-arduino     the same build with Arduino CLI (internet once for the core)
#   make flash-arduino        upload with Arduino CLI
#   make firmware-board-check what CI runs, offline: Arduino CLI's recipe from $(ARDUINO_MBED) on every board source,
#                             link without libmbed.a, undefined symbols classified, sizes by origin
#                             -> build/firmware/board_size_<board>_<engine>.json

.PHONY: firmware flash firmware-gen firmware-arduino flash-arduino firmware-board-check firmware-board-lib

# BOARD=nano33ble (default): the serial protocol of PROTOCOL.md. BOARD=nano33ble_sense: the Nano 33 BLE Sense
# listens to its PDM microphone and prints "# heard <label> <score> at <ms>" (firmware/src/listen/; README). Same FQBN.
BOARD ?= nano33ble
ifeq ($(filter $(BOARD),nano33ble nano33ble_sense),)
$(error BOARD must be nano33ble or nano33ble_sense, not '$(BOARD)')
endif
BOARD_GOALS := firmware flash firmware-gen firmware-arduino flash-arduino firmware-board-check
ifneq ($(filter $(BOARD_GOALS),$(MAKECMDGOALS)),)
ifneq ($(filter command line,$(origin KERNELS) $(origin OPT)),)
$(error the board builds TFLM with CMSIS-NN at the core's -Os (Arduino's recipe): KERNELS= and OPT= are the emulator's)
endif
endif

# Exact PlatformIO Core version, so that every machine resolves the platform the same way.
PLATFORMIO_VERSION := 6.2.0
PIO := $(VENV)/bin/pio
# PlatformIO's environment of the board and engine (platformio.ini).
PIO_ENV := $(BOARD)_$(ENGINE)
ARDUINO_CLI ?= arduino-cli
ARDUINO_FQBN := arduino:mbed_nano:nano33ble
# The core release $(ARDUINO_MBED) holds (pins.json); platformio.ini pins the same release of framework-arduino-mbed.
ARDUINO_CORE_VERSION := $(ARDUINO_MBED_REV)

BOARD_LIBS := $(BUILD)/arduino-libs
# platformio.ini names this folder too (lib_deps of the TFLM environments).
TFLM_LIB := $(BOARD_LIBS)/tflite_micro
TFLM_LIB_STAMP := $(TFLM_LIB)/library.properties
BOARD_TFLM := $(filter tflm,$(ENGINE))
BOARD_CHECK := $(PYTHON_SYS) $(FW)/tools/board_check.py
# Sources of the board build; the negative test of tests/test_board_build.py points it at a broken copy.
FW_BOARD_SRC ?= $(FW)/src
FW_BOARD_SKETCH_ARGS = --src $(FW_BOARD_SRC) --ino $(FW)/nano33ble/nano33ble.ino --target $(BOARD) --engine $(ENGINE)

$(TFLM_LIB_STAMP): $(TFLM_CM4_STAMP) $(FW)/tools/tflm_arduino_lib.py $(FW)/tools/arduino_recipe.py
	$(PYTHON_SYS) $(FW)/tools/tflm_arduino_lib.py --tflm $(TFLM_CM4) --out $(TFLM_LIB)

firmware-board-lib: $(TFLM_LIB_STAMP)  ## package the pinned TFLM tree as an Arduino/PlatformIO library (build/arduino-libs)

# ---- offline check (CI) -------------------------------------------------------------------------------------
# The model of FW_MODEL when `make quantize` has run; without one, a TFLM check builds the fixture model (PROTOCOL.md's
# reference configuration, not a network: it links, it does not infer) and a native check stops.
FW_BOARD_FIXTURE := $(if $(and $(BOARD_TFLM),$(if $(wildcard $(FW_GEN)/model_settings.h),,no-model)),$(FW_FIXTURE)/generated,)
FW_BOARD_GEN := $(or $(FW_BOARD_FIXTURE),$(FW_GEN))
# Sketches and reports per board and engine under the model's build; one compile folder for all of them (the
# sketch's objects are recompiled when the sketch changes); the third-party objects in the cache (TP_CACHE).
FW_BOARD := $(FW_BUILD)/board
FW_BOARD_OUT := $(FW_MODEL_BUILD)/board/$(BOARD)-$(ENGINE)
FW_BOARD_REPORT := $(FW_MODEL_BUILD)/board_size_$(BOARD)_$(ENGINE).json

firmware-board-check: $(if $(BOARD_TFLM),$(TFLM_LIB_STAMP)) $(ARDUINO_MBED_STAMP) $(if $(FW_BOARD_FIXTURE),$(FW_FIXTURE)/generated/model_settings.h)  ## compile every board source with Arduino CLI's recipe offline, link check, sizes (BOARD=, ENGINE=)
	@$(BOARD_CHECK) sketch $(FW_BOARD_SKETCH_ARGS) --gen $(FW_BOARD_GEN) --out $(FW_BOARD_OUT)/$(BOARD)
	@$(BOARD_CHECK) check --core $(ARDUINO_MBED) $(if $(BOARD_TFLM),--lib $(TFLM_LIB)) --sketch $(FW_BOARD_OUT)/$(BOARD) \
	    --build $(FW_BOARD)/build $(if $(TP_CACHE),--cache $(TP_CACHE)) --report $(FW_BOARD_REPORT) --jobs $(TP_JOBS) \
	    --target $(BOARD)

# ---- PlatformIO ---------------------------------------------------------------------------------------------
# PlatformIO compiles firmware/src/ (its extra script tools/pio_sources.py picks IMAGE_<board>_<engine>), so the
# generated model goes into src/generated/ (git-ignored) by the one copy rule of firmware.mk, once every file is there.
firmware-gen: $(addprefix $(FW_GEN)/,$(FW_GEN_FILES)) $(addprefix $(FW_GEN_DST)/,$(FW_GEN_FILES))  ## copy the generated model of ENGINE into firmware/src/generated (PlatformIO)

$(PIO): | venv
	$(VENV)/bin/pip install -q platformio==$(PLATFORMIO_VERSION)

firmware: firmware-gen $(if $(BOARD_TFLM),$(TFLM_LIB_STAMP)) $(PIO)  ## build the board firmware with PlatformIO (BOARD=nano33ble|nano33ble_sense, ENGINE=native|tflm)
	$(PIO) run -d $(FW) -e $(PIO_ENV)

flash: firmware-gen $(if $(BOARD_TFLM),$(TFLM_LIB_STAMP)) $(PIO)  ## build and upload with PlatformIO [PORT=]
	$(PIO) run -d $(FW) -e $(PIO_ENV) -t upload $(if $(PORT),--upload-port $(PORT),)

# ---- Arduino CLI --------------------------------------------------------------------------------------------
# The compile recipes go through arduino_recipe.py's wrapper, which gives the sketch and TFLM their flags (the same
# function the offline check uses); the recipe text comes from $(ARDUINO_MBED)'s platform.txt, the same release.
FW_SKETCH := $(FW_BUILD)/arduino/$(BOARD)-$(ENGINE)/$(BOARD)
FW_ARDUINO_OUT := $(FW_BUILD)/arduino/out-$(BOARD)-$(ENGINE)

firmware-arduino: $(if $(BOARD_TFLM),$(TFLM_LIB_STAMP)) $(ARDUINO_MBED_STAMP)  ## the same build with Arduino CLI (BOARD=, ENGINE=)
	$(BOARD_CHECK) sketch $(FW_BOARD_SKETCH_ARGS) --gen $(FW_GEN) --out $(FW_SKETCH)
	$(ARDUINO_CLI) core install arduino:mbed_nano@$(ARDUINO_CORE_VERSION)
	mapfile -t props < <($(PYTHON_SYS) $(FW)/tools/arduino_recipe.py props --core $(ARDUINO_MBED) \
	    $(if $(BOARD_TFLM),--lib $(TFLM_LIB))) && \
	args=() && for p in "$${props[@]}"; do args+=(--build-property "$$p"); done && \
	$(ARDUINO_CLI) compile --fqbn $(ARDUINO_FQBN) $(if $(BOARD_TFLM),--libraries $(BOARD_LIBS)) \
	    --output-dir $(FW_ARDUINO_OUT) "$${args[@]}" $(FW_SKETCH)

flash-arduino: firmware-arduino  ## upload the Arduino CLI build [PORT=]
	port="$(PORT)"; test -n "$$port" || port=$$($(ARDUINO_CLI) board list | awk '/$(ARDUINO_FQBN)/ {print $$1; exit}'); \
	test -n "$$port" || { echo "error: no Nano 33 BLE found; pass PORT=/dev/ttyACM0" >&2; exit 1; }; \
	$(ARDUINO_CLI) upload --fqbn $(ARDUINO_FQBN) -p $$port --input-dir $(FW_ARDUINO_OUT) $(FW_SKETCH)
