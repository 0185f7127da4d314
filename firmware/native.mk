# The native engine's fuzz target (included by firmware.mk after emu.mk, whose host TFLM library it links):
#   make firmware-native-fuzz [FUZZ_SECONDS=20]   libFuzzer + ASan/UBSan: native_model.cc against TFLM's reference
#                                                 kernels on the same model, for FUZZ_SECONDS; needs `make quantize`
# NATIVE_FUZZ_GEN points at another model's generated files (the tests' smoke build).
#   make tflm-reference                           the pinned TFLM as a command-line scorer (the native engine's
#                                                 host reference in tests/test_native.py)
#   make native-kernels-test                      the engine's sigmoid/tanh against the pinned TFLM's on every input
#                                                 (the table from NATIVE_FUZZ_GEN's generated model)
#   make native-emu-check [OPT=Os|O2]             NATIVE_FUZZ_GEN's model on the Cortex-M4 path: a QEMU image that
#                                                 scores clips.bin into scores.bin by semihosting (tests/test_native.py)
.PHONY: firmware-native-fuzz native-fuzz-image tflm-reference native-kernels-test native-emu-check

NATIVE_FUZZ_GEN ?= $(FW_GEN_SRC)
NATIVE_FUZZ_DIR ?= $(FW_BUILD)/native-fuzz
# One clip of the default model is 1,300 bytes; longer inputs add nothing (they are cut to one clip).
NATIVE_FUZZ_MAX_LEN := 1300
NATIVE_FUZZ_GEN_FILES := $(addprefix $(NATIVE_FUZZ_DIR)/gen/generated/,model_data.h model_data.cc model_settings.h \
                           selftest_data.h $(FW_NATIVE_GEN_FILES))
# The engine and its kernels under the sanitizers; the TFLM library as built for the host simulator.
NATIVE_FUZZ_SRCS := $(FW)/tests/native_fuzz.cc $(FW)/src/native/kernels.cc \
                    $(NATIVE_FUZZ_DIR)/gen/generated/native_model.cc $(NATIVE_FUZZ_DIR)/gen/generated/model_data.cc

$(NATIVE_FUZZ_DIR)/gen/generated/%: $(NATIVE_FUZZ_GEN)/%
	@mkdir -p $(@D)
	@cp $< $@

.SECONDARY: $(NATIVE_FUZZ_GEN_FILES)

$(NATIVE_FUZZ_DIR)/native_fuzz: $(NATIVE_FUZZ_GEN_FILES) $(FW)/tests/native_fuzz.cc $(FW)/tests/reference_ops.h \
                                $(FW)/src/native/kernels.cc $(FW)/src/native/kernels.h $(FW)/src/native/lstm.h \
                                $(SIM_TFLM_LIB)
	$(FUZZ_CXX) -std=c++17 -g -O1 -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY -I$(FW)/src -I$(FW) \
	    -I$(NATIVE_FUZZ_DIR)/gen $(SIM_TFLM_INCS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(NATIVE_FUZZ_SRCS) $(SIM_TFLM_LIB) -o $@

native-fuzz-image: $(NATIVE_FUZZ_DIR)/native_fuzz

firmware-native-fuzz: $(TFLM_HOST_STAMP)
	@$(MAKE) --no-print-directory native-fuzz-image
	@mkdir -p $(NATIVE_FUZZ_DIR)/corpus
	$(NATIVE_FUZZ_DIR)/native_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=$(NATIVE_FUZZ_MAX_LEN) -timeout=30 \
	    -print_final_stats=1 $(NATIVE_FUZZ_DIR)/corpus

# The board's TFLM revision on the host: the reference the native engine, and the PyPI tflite-micro pinned for the
# pipeline's `tflm` backend, must equal (later PyPI builds differ by one on rare inputs).
TFLM_REFERENCE := $(FW_BUILD)/tflm-reference/tflm_reference

$(TFLM_REFERENCE): $(FW)/tests/tflm_reference.cc $(FW)/tests/reference_ops.h $(SIM_TFLM_LIB)
	@mkdir -p $(@D)
	$(HOST_CXX) -std=c++17 -O2 -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY -I$(FW) $(SIM_TFLM_INCS) $< \
	    $(SIM_TFLM_LIB) -o $@

tflm-reference: $(TFLM_HOST_STAMP)
	@$(MAKE) --no-print-directory $(TFLM_REFERENCE)

NATIVE_KERNELS_TEST := $(NATIVE_FUZZ_DIR)/kernels_test

$(NATIVE_KERNELS_TEST): $(FW)/src/native/kernels_test.cc $(FW)/tests/test_main.cc $(FW)/src/native/kernels.cc \
                        $(FW_HEADERS) $(NATIVE_FUZZ_DIR)/gen/generated/native_model.cc \
                        $(NATIVE_FUZZ_DIR)/gen/generated/native_model.h
	@mkdir -p $(@D)
	$(HOST_CXX) -std=c++17 -O2 -fno-exceptions -fno-rtti -I$(FW)/src -I$(FW) -I$(NATIVE_FUZZ_DIR)/gen $(SIM_TFLM_INCS) \
	    $(filter %.cc,$^) -o $@

native-kernels-test: $(TFLM_HOST_STAMP)
	@$(MAKE) --no-print-directory $(NATIVE_KERNELS_TEST)
	$(NATIVE_KERNELS_TEST)

NATIVE_EMU_CHECK := $(NATIVE_FUZZ_DIR)/emu-check-$(OPT)/native_check.elf
NATIVE_EMU_CHECK_SRCS := $(FW)/tests/native_emu_check.cc $(FW)/src/native/kernels.cc \
                         $(NATIVE_FUZZ_DIR)/gen/generated/native_model.cc

$(NATIVE_FUZZ_DIR)/emu-check-$(OPT)/startup.o: $(FW)/emu/startup.c
	@mkdir -p $(@D)
	$(ARM_CC) $(EMU_FW_CFLAGS) -c $< -o $@

$(NATIVE_EMU_CHECK): $(NATIVE_EMU_CHECK_SRCS) $(NATIVE_FUZZ_DIR)/emu-check-$(OPT)/startup.o \
                     $(NATIVE_FUZZ_DIR)/gen/generated/native_model.h $(FW_HEADERS) $(EMU_LDSCRIPT)
	$(ARM_CXX) $(EMU_COMMON) -std=c++17 -fno-exceptions -fno-rtti -fno-threadsafe-statics -Wall -Wextra -Werror \
	    -I$(FW)/src -I$(NATIVE_FUZZ_DIR)/gen $(filter %.cc %.o,$^) --specs=nano.specs -nostartfiles \
	    -T $(EMU_LDSCRIPT) -Wl,--gc-sections -o $@

native-emu-check: $(NATIVE_EMU_CHECK)

# make bench-native-seeds [NATIVE_SEEDS="1234 1235 1236"]: the native engine against TFLM + CMSIS-NN (-O2, -Os) on
# the models of several training seeds (trained on build/features) -> build/bench.json "native_seeds"
NATIVE_SEEDS ?= 1234 1235 1236
.PHONY: bench-native-seeds
bench-native-seeds: venv
	$(PY) -m experiments.native_seeds --seeds $(NATIVE_SEEDS) --build $(BUILD)
