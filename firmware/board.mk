# Board builds for the Arduino Nano 33 BLE (Arduino mbed core, FQBN arduino:mbed_nano:nano33ble), included by
# firmware.mk. TFLM is the pinned tree $(TFLM_CM4), packaged as a library into build/arduino-libs/; C++17 for the
# firmware and TFLM only, the core at its own gnu++14; float ABI softfp as the core (firmware/tools/arduino_recipe.py).
#   make firmware             PlatformIO build (needs `make quantize`; internet once for PlatformIO's platform)
#   make flash [PORT=...]     upload with PlatformIO
#   make firmware-arduino     the same build with Arduino CLI (internet once for the core)
#   make flash-arduino        upload with Arduino CLI
#   make firmware-board-check what CI runs, offline: Arduino CLI's recipe from $(ARDUINO_MBED) on every board source,
#                             link without libmbed.a, undefined symbols classified, sizes by origin
#                             -> build/firmware/board_size.json (ENGINE=native: the native engine, no TFLM
#                             library -> board_size_native.json)

.PHONY: firmware flash firmware-gen firmware-arduino flash-arduino firmware-board-check firmware-board-lib

# BOARD=nano33ble (default): the serial protocol of PROTOCOL.md. BOARD=nano33ble_sense: the Nano 33 BLE Sense
# listens to its PDM microphone and prints "# heard <label> <score> at <ms>" (firmware/src/listen/; README). Same
# FQBN; the sources of each are chosen by firmware/tools/board_check.py's TARGETS and platformio.ini's envs.
BOARD ?= nano33ble
ifeq ($(filter $(BOARD),nano33ble nano33ble_sense),)
$(error BOARD must be nano33ble or nano33ble_sense, not '$(BOARD)')
endif

# Exact PlatformIO Core version, so that every machine resolves the platform the same way.
PLATFORMIO_VERSION := 6.2.0
PIO := $(VENV)/bin/pio
ARDUINO_CLI ?= arduino-cli
ARDUINO_FQBN := arduino:mbed_nano:nano33ble
# The core release $(ARDUINO_MBED) holds; platformio.ini pins the same release of framework-arduino-mbed.
ARDUINO_CORE_VERSION := 4.5.0

BOARD_LIBS := $(BUILD)/arduino-libs
# platformio.ini names this folder too (lib_extra_dirs, include paths).
TFLM_LIB := $(BOARD_LIBS)/tflite_micro_90b983c2
TFLM_LIB_STAMP := $(TFLM_LIB)/library.properties
BOARD_CHECK := $(PYTHON_SYS) $(FW)/tools/board_check.py
FW_BOARD := $(FW_BUILD)/board
# Sources of the board build; the negative test of tests/test_board_build.py points it at a broken copy.
FW_BOARD_SRC ?= $(FW)/src
# The check builds the generated model when `make quantize` has run, the fixture model otherwise.
FW_BOARD_GEN ?= $(if $(wildcard $(FW_GEN_SRC)/model_settings.h),$(FW_GEN_SRC),$(FW_FIXTURE)/generated)
FW_SKETCH := $(FW_BUILD)/arduino/$(BOARD)
# The plain board's report keeps its name; the Sense's is board_size_nano33ble_sense.json, the native engine's
# board_size[_nano33ble_sense]_native.json (recursive: BOARD_NATIVE is set below).
FW_BOARD_REPORT = $(FW_BUILD)/board_size$(if $(filter nano33ble_sense,$(BOARD)),_$(BOARD),)$(if $(BOARD_NATIVE),_native,).json

$(TFLM_LIB_STAMP): $(TFLM_CM4_STAMP) $(FW)/tools/tflm_arduino_lib.py $(FW)/tools/arduino_recipe.py
	$(PYTHON_SYS) $(FW)/tools/tflm_arduino_lib.py --tflm $(TFLM_CM4) --out $(TFLM_LIB)

firmware-board-lib: $(TFLM_LIB_STAMP)

# ---- offline check (CI) -------------------------------------------------------------------------------------
FW_BOARD_FIXTURE := $(if $(wildcard $(FW_GEN_SRC)/model_settings.h),,$(FW_FIXTURE)/generated/model_settings.h)

# ENGINE=native: the native engine instead of TFLM (no TFLM library at all) -> build/firmware/board_size_native.json.
# Every board and engine compiles into one build folder: the core's objects are shared (the check drops sketch
# files of another build), only the sketch folder is per engine.
BOARD_NATIVE := $(filter native,$(ENGINE))
FW_BOARD_OUT := $(FW_BOARD)$(if $(BOARD_NATIVE),-native,)

firmware-board-check: $(if $(BOARD_NATIVE),,$(TFLM_LIB_STAMP)) $(ARDUINO_MBED_STAMP) $(FW_BOARD_FIXTURE)
	@$(BOARD_CHECK) sketch --src $(FW_BOARD_SRC) --ino $(FW)/nano33ble/nano33ble.ino --gen $(FW_BOARD_GEN) \
	    --out $(FW_BOARD_OUT)/$(BOARD) --target $(BOARD) $(if $(BOARD_NATIVE),--engine native,)
	@$(BOARD_CHECK) check --core $(ARDUINO_MBED) $(if $(BOARD_NATIVE),,--lib $(TFLM_LIB)) \
	    --sketch $(FW_BOARD_OUT)/$(BOARD) --build $(FW_BOARD)/build --report $(FW_BOARD_REPORT) --jobs 2 \
	    --target $(BOARD)

# ---- PlatformIO ---------------------------------------------------------------------------------------------
firmware-gen:
	@for f in $(FW_GEN_FILES); do \
	    test -f $(FW_GEN_SRC)/$$f || { echo "error: $(FW_GEN_SRC)/$$f is missing: run 'make quantize' first (it generates the model C array and settings)" >&2; exit 1; }; \
	done
	@mkdir -p $(FW_GEN_DST)
	cp $(addprefix $(FW_GEN_SRC)/,$(FW_GEN_FILES)) $(FW_GEN_DST)/

$(PIO): | venv
	$(VENV)/bin/pip install -q platformio==$(PLATFORMIO_VERSION)

firmware: firmware-gen $(TFLM_LIB_STAMP) $(PIO)
	$(PIO) run -d $(FW) -e $(BOARD)

flash: firmware-gen $(TFLM_LIB_STAMP) $(PIO)
	$(PIO) run -d $(FW) -e $(BOARD) -t upload $(if $(PORT),--upload-port $(PORT),)

# ---- Arduino CLI --------------------------------------------------------------------------------------------
# The compile recipes go through arduino_recipe.py's wrapper, which gives the sketch and TFLM their flags (the same
# function the offline check uses); the recipe text comes from $(ARDUINO_MBED)'s platform.txt, the same release.
firmware-arduino: $(TFLM_LIB_STAMP) $(ARDUINO_MBED_STAMP)
	$(BOARD_CHECK) sketch --src $(FW)/src --ino $(FW)/nano33ble/nano33ble.ino --gen $(FW_GEN_SRC) --out $(FW_SKETCH) \
	    --target $(BOARD)
	$(ARDUINO_CLI) core install arduino:mbed_nano@$(ARDUINO_CORE_VERSION)
	mapfile -t props < <($(PYTHON_SYS) $(FW)/tools/arduino_recipe.py props --core $(ARDUINO_MBED) --lib $(TFLM_LIB)) && \
	args=() && for p in "$${props[@]}"; do args+=(--build-property "$$p"); done && \
	$(ARDUINO_CLI) compile --fqbn $(ARDUINO_FQBN) --libraries $(BOARD_LIBS) --output-dir $(FW_BUILD)/arduino/out-$(BOARD) \
	    "$${args[@]}" $(FW_SKETCH)

flash-arduino: firmware-arduino
	port="$(PORT)"; test -n "$$port" || port=$$($(ARDUINO_CLI) board list | awk '/$(ARDUINO_FQBN)/ {print $$1; exit}'); \
	test -n "$$port" || { echo "error: no Nano 33 BLE found; pass PORT=/dev/ttyACM0" >&2; exit 1; }; \
	$(ARDUINO_CLI) upload --fqbn $(ARDUINO_FQBN) -p $$port --input-dir $(FW_BUILD)/arduino/out-$(BOARD) $(FW_SKETCH)
