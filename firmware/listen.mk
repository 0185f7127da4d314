# Continuous recognition (issue 19): firmware/src/listen/, included by firmware.mk. Every listener image links the
# engine of ENGINE (native by default, TFLM with ENGINE=tflm) and the model of FW_MODEL.
#   make firmware-listen-test   the listener's host unit tests (ring, mock provider, RecognizeCommands, the loop with
#                               the front end's test double and the fake inference), ASan/UBSan; part of firmware-check
#   make firmware-listen-sim    the listener with the real front end (src/frontend/) on the host (IMAGE_host_listen_*):
#                               $(FW_MODEL)/firmware/listen-<engine>/listen_sim <16 kHz mono WAV> prints "# heard ..."
#   make firmware-listen-emu    the same listener on the emulated board (IMAGE_emu_listen_*): listen.elf next to the
#                               serial firmware.elf of the configuration
# The Sense board build (BOARD=nano33ble_sense) is in board.mk.

.PHONY: firmware-listen-test firmware-listen-sim listen-sim-image firmware-listen-emu listen-emu-image

LISTEN_TESTS := $(wildcard $(FW)/src/listen/*_test.cc)
# The front end's test double (tests/frontend_double) stands in for src/frontend/*.cc in the unit tests only (the
# interface is src/frontend/frontend.h).
LISTEN_TEST_FLAGS := $(FW_HOST_FLAGS) -I$(FW_FIXTURE)
LISTEN_TEST_SRCS := $(filter-out $(FW)/src/frontend/%,$(call fw_srcs,$(FW_LISTEN_SRCS))) \
                    $(call fw_srcs,$(FW_LISTEN_CORE_SRCS)) $(FW)/src/listen/audio_provider_mock.cc

$(FW_BUILD)/listen/unit_tests: $(LISTEN_TEST_SRCS) $(LISTEN_TESTS) $(FW)/tests/frontend_double/frontend_double.cc \
    $(FW_HOST_SRCS) $(FW)/tests/test_main.cc $(FW_FIXTURE_SRCS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(LISTEN_TEST_FLAGS) $(FW_SANITIZE) $(filter %.cc,$^) -o $@

firmware-listen-test: $(FW_BUILD)/listen/unit_tests  ## the listener's host unit tests (ASan/UBSan)
	$<

firmware-check: firmware-listen-test

# ---- the simulator: the listener on the host (emu.mk's host TFLM library for ENGINE=tflm) ------------------------
LISTEN_DIR := $(FW_MODEL_BUILD)/listen-$(ENGINE)
LISTEN_SIM_SRCS := $(call fw_srcs,$(IMAGE_host_listen_$(ENGINE)))

$(LISTEN_DIR)/listen_sim: $(LISTEN_SIM_SRCS) $(FW_GEN_COPIES) $(SIM_LIBS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) -O2 $(SIM_FW_FLAGS) $(LISTEN_SIM_SRCS) $(SIM_LIBS) -o $@

listen-sim-image: $(LISTEN_DIR)/listen_sim  ## (used by firmware-listen-sim, after the TFLM tree is unpacked) build the listener simulator

firmware-listen-sim: $(if $(EMU_NATIVE),,$(TFLM_HOST_STAMP))  ## the Sense's listener on the host: <FW_MODEL>/firmware/listen-<engine>/listen_sim <16 kHz WAV>
	@$(MAKE) --no-print-directory listen-sim-image

# ---- the emulated board: the same listener on QEMU mps2-an386 (emu.mk's TFLM library, flags and object rules) ----
# firmware/emu/main_listen_emu.cc plays a clip that QEMU loads into the board's PSRAM at run time
# (host/emulator.py: listen_emulated).
LISTEN_EMU_OBJS := $(call emu_objs,$(IMAGE_emu_listen_$(ENGINE)))

$(FW_EMU_DIR)/listen.elf: $(LISTEN_EMU_OBJS) $(EMU_LIBS) $(EMU_LDSCRIPT)
	@echo "  LD   $@"
	@$(ARM_CXX) $(EMU_ARCH) --specs=nano.specs -nostartfiles -T $(EMU_LDSCRIPT) -Wl,--gc-sections \
	    -Wl,-Map=$(FW_EMU_DIR)/listen.map $(LISTEN_EMU_OBJS) $(EMU_LIBS) -lm -o $@
	@$(ARM_SIZE) $@

listen-emu-image: $(FW_EMU_DIR)/listen.elf  ## (used by firmware-listen-emu, after the TFLM tree is unpacked) link the emulated listener

firmware-listen-emu: $(EMU_TFLM_TREES)  ## the listener on the emulated board (ENGINE=, KERNELS=, OPT=); play a clip: python -m host.emulator [--engine tflm] <16 kHz WAV>
	@$(MAKE) --no-print-directory listen-emu-image
