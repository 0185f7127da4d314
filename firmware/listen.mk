# Continuous recognition (issue 19): firmware/src/listen/, included by firmware.mk.
#   make firmware-listen-test   the listener's host unit tests (ring, mock provider, RecognizeCommands, the loop with
#                               the front end's test double and the fake inference), ASan/UBSan; part of firmware-check
#   make firmware-listen-sim    the listener with the real front end (src/frontend/) and host TFLM on the model of
#                               FW_LISTEN_GEN: build/firmware/listen/listen_sim <16 kHz mono WAV> prints "# heard ..."
# The Sense board build (BOARD=nano33ble_sense) is in board.mk.

.PHONY: firmware-listen-test firmware-listen-sim listen-sim-image

LISTEN_DIR := $(FW_BUILD)/listen
LISTEN_SRCS := $(addprefix $(FW)/src/listen/,audio_ring.cc recognize_commands.cc listen.cc)
LISTEN_TESTS := $(wildcard $(FW)/src/listen/*_test.cc)
LISTEN_CORE := $(addprefix $(FW)/src/core/,crc16.cc line_writer.cc)
# The front end's test double (tests/frontend_double) stands in for src/frontend/ in the unit tests only; its
# include folder comes after src/, so a real src/frontend/frontend.h takes precedence.
LISTEN_TEST_FLAGS := $(FW_HOST_FLAGS) -I$(FW_FIXTURE) -I$(FW)/tests/frontend_double

$(LISTEN_DIR)/unit_tests: $(LISTEN_SRCS) $(LISTEN_TESTS) $(LISTEN_CORE) $(FW)/src/listen/audio_provider_mock.cc \
    $(FW)/tests/frontend_double/frontend_double.cc $(FW_HOST_SRCS) $(FW)/tests/test_main.cc $(FW_FIXTURE_SRCS) \
    $(FW_HEADERS) $(wildcard $(FW)/tests/frontend_double/frontend/*.h)
	@mkdir -p $(@D)
	$(HOST_CXX) $(LISTEN_TEST_FLAGS) $(FW_SANITIZE) $(filter %.cc,$^) -o $@

firmware-listen-test: $(LISTEN_DIR)/unit_tests
	$<

firmware-check: firmware-listen-test

# ---- the simulator: host TFLM (emu.mk's SIM_TFLM_LIB), the generated model, the real front end -----------------
FW_LISTEN_GEN ?= $(FW_GEN_SRC)
LISTEN_SIM_GEN := $(addprefix $(LISTEN_DIR)/gen/generated/,$(FW_GEN_FILES))
LISTEN_SIM_SRCS := $(LISTEN_SRCS) $(LISTEN_CORE) $(FW)/src/listen/audio_provider_mock.cc \
                   $(FW)/src/app/main_listen_host.cc $(FW)/src/platform/platform_host.cc \
                   $(FW)/src/inference/inference_tflm.cc $(FW)/src/frontend/frontend.cc

$(LISTEN_DIR)/gen/generated/%: $(FW_LISTEN_GEN)/%
	@mkdir -p $(@D)
	cp $< $@

.SECONDARY: $(LISTEN_SIM_GEN)

$(LISTEN_DIR)/listen_sim: $(LISTEN_SIM_SRCS) $(LISTEN_SIM_GEN) $(SIM_TFLM_LIB) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) -O2 -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY $(SIM_TFLM_INCS) \
	    -I$(LISTEN_DIR)/gen $(LISTEN_SIM_SRCS) $(LISTEN_DIR)/gen/generated/model_data.cc \
	    $(LISTEN_DIR)/gen/generated/selftest_data.cc $(SIM_TFLM_LIB) -o $@

listen-sim-image: $(LISTEN_DIR)/listen_sim

firmware-listen-sim: $(TFLM_HOST_STAMP)
	@$(MAKE) --no-print-directory listen-sim-image

# ---- the emulated board: the same listener on QEMU mps2-an386 (emu.mk's TFLM library, flags and object rules) ----
#   make firmware-listen-emu [KERNELS=cmsis|ref] [OPT=Os|O2]  -> $(FW_EMU_DIR)/listen.elf, next to firmware.elf
# firmware/emu/main_listen_emu.cc plays a clip that QEMU loads into the board's PSRAM at run time
# (host/emulator.py: listen_emulated); the model comes from FW_EMU_GEN, like the serial firmware's.
LISTEN_EMU_SRCS := $(LISTEN_SRCS) $(LISTEN_CORE) $(FW)/src/listen/audio_provider_mock.cc \
                   $(FW)/src/frontend/frontend.cc $(FW)/src/inference/inference_tflm.cc $(FW)/emu/tflm_port.cc \
                   $(FW)/src/platform/platform_mps2.cc $(FW)/emu/main_listen_emu.cc
LISTEN_EMU_OBJS := $(patsubst %,$(FW_EMU_DIR)/obj/%.o,$(LISTEN_EMU_SRCS) $(FW)/emu/startup.c $(FW)/emu/syscalls.c) \
                   $(FW_EMU_DIR)/obj/generated/selftest_data.cc.o $(FW_EMU_DIR)/obj/generated/model_data.cc.o

$(FW_EMU_DIR)/listen.elf: $(LISTEN_EMU_OBJS) $(EMU_TFLM_LIB) $(EMU_LDSCRIPT)
	@echo "  LD   $@"
	@$(ARM_CXX) $(EMU_ARCH) --specs=nano.specs -nostartfiles -T $(EMU_LDSCRIPT) -Wl,--gc-sections \
	    -Wl,-Map=$(FW_EMU_DIR)/listen.map $(LISTEN_EMU_OBJS) $(EMU_TFLM_LIB) -lm -o $@
	@$(ARM_SIZE) $@

.PHONY: firmware-listen-emu listen-emu-image
listen-emu-image: $(FW_EMU_DIR)/listen.elf

firmware-listen-emu: $(TFLM_CM4_STAMP) $(if $(filter ref,$(KERNELS)),$(TFLM_HOST_STAMP),)
	@$(MAKE) --no-print-directory listen-emu-image

ifneq ($(filter firmware-listen-emu listen-emu-image,$(MAKECMDGOALS)),)
ifneq ($(ENGINE),tflm)
$(error the listener runs TFLM: firmware-listen-emu takes KERNELS and OPT, not ENGINE=$(ENGINE))
endif
endif
