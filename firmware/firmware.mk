# Firmware targets, included by the top-level Makefile (which defines BUILD, PY, PYTHON_SYS and venv).
#   board builds (make firmware, flash, firmware-arduino, firmware-board-check): firmware/board.mk
#   the emulated board and the host simulators: firmware/emu/emu.mk; the listener: firmware/listen.mk
#   every image's source list: firmware/sources.mk (make, PlatformIO and the board check read it)

.PHONY: firmware-check firmware-test firmware-cross firmware-fuzz firmware-sim-fake

FW := firmware
FW_BUILD := $(BUILD)/firmware
include $(FW)/sources.mk

# ENGINE=native|tflm: the inference engine of every image (board, emulator, host simulator, listener). Native, the
# model compiled to C (quantize/native.py), is the default: bit-exact with TFLM, a third of its flash, no arena.
# TFLM stays the reference the harness and the tests compare with.
ENGINE ?= native
ifeq ($(filter $(ENGINE),native tflm),)
$(error ENGINE must be native or tflm, not '$(ENGINE)')
endif
# TFLM's kernels (KERNELS=cmsis|ref) and the optimisation level (OPT=Os|O2) of the emulated and simulated images.
KERNELS ?= cmsis
OPT ?= Os
ifeq ($(filter $(KERNELS),cmsis ref),)
$(error KERNELS must be cmsis or ref, not '$(KERNELS)')
endif
ifeq ($(filter $(OPT),Os O2),)
$(error OPT must be Os or O2, not '$(OPT)')
endif
ifeq ($(ENGINE)$(origin KERNELS),nativecommand line)
$(error KERNELS=$(KERNELS) chooses TFLM's kernels, and ENGINE=native has none: add ENGINE=tflm)
endif

# ---- the generated model --------------------------------------------------------------------------------------
# FW_MODEL=<build folder>: whose model every image builds (its gen/ from `make quantize`); the images go to its
# firmware/. The one variable for it (the tests point it at their smoke builds).
FW_MODEL ?= $(BUILD)
FW_GEN := $(FW_MODEL)/gen
FW_MODEL_BUILD := $(FW_MODEL)/firmware
# Include root of the model's files for the emulated and host images: $(FW_GEN_INC)/generated/.
FW_GEN_INC := $(FW_MODEL_BUILD)/gen
FW_GEN_DST := $(FW)/src/generated
FW_GEN_FILES := $(FW_GEN_FILES_$(ENGINE))
# The one copy rule of the generated files, into each folder that needs them (PlatformIO's src/generated/, the
# include root of the emulated and host images).
define FW_GEN_COPY
$(1)/%: $$(FW_GEN)/%
	@mkdir -p $$(@D)
	@cp $$< $$@
endef
$(foreach dir,$(FW_GEN_INC)/generated $(FW_GEN_DST),$(eval $(call FW_GEN_COPY,$(dir))))
# A file `make quantize` did not write: its output says why; for the native engine, gen/$(FW_GEN_NATIVE_UNSUPPORTED)
# holds the reason the model cannot be compiled to C.
$(FW_GEN)/%:
	@if [ "$(ENGINE)" = native ] && [ -f $(FW_GEN)/$(FW_GEN_NATIVE_UNSUPPORTED) ]; then \
	    echo "error: the native engine cannot run the model of $(FW_GEN) ($$(cat $(FW_GEN)/$(FW_GEN_NATIVE_UNSUPPORTED))): build with ENGINE=tflm" >&2; \
	else echo "error: $@ is missing: run 'make quantize' first (it generates the model's C files)" >&2; fi; exit 1
FW_GEN_COPIES := $(addprefix $(FW_GEN_INC)/generated/,$(FW_GEN_FILES))
.SECONDARY: $(FW_GEN_COPIES)
# $(call fw_srcs,<list>): the paths of a sources.mk list (generated/... from the include root).
fw_srcs = $(patsubst $(FW)/generated/%,$(FW_GEN_INC)/generated/%,$(addprefix $(FW)/,$(1)))

# ---- host unit tests, the Cortex-M4F cross-compile, fuzzing: the portable core with test doubles -----------------
#   make firmware-check    what CI runs: host unit tests + golden vectors (ASan/UBSan), Cortex-M4F cross-compile
#                          with size report, bounded libFuzzer run; built with the fixture model (PROTOCOL.md's
#                          reference configuration, firmware/tests/make_fixture.py), not a trained one
FW_CORE := $(call fw_srcs,$(FW_CORE_SRCS))
FW_CORE_TESTS := $(wildcard $(FW)/src/core/*_test.cc)
FW_HOST_SRCS := $(FW)/src/platform/platform_host.cc $(FW)/src/inference/inference_fake.cc \
                $(FW)/src/inference/audio_frontend_fake.cc
FW_FRONTEND_TESTS := $(FW)/src/frontend/frontend_test.cc
FW_TEST_SUPPORT := $(FW)/tests/test_main.cc $(FW)/tests/reference_config.cc $(FW)/tests/golden_vectors_test.cc
FW_HEADERS := $(wildcard $(FW)/src/*/*.h $(FW)/tests/*.h)
FW_GOLDEN := $(FW)/protocol/golden_vectors.txt
FW_FIXTURE := $(FW_BUILD)/fixture
FW_FIXTURE_SRCS := $(FW_FIXTURE)/generated/model_data.cc $(FW_FIXTURE)/generated/selftest_data.cc

HOST_CXX ?= g++
FW_HOST_FLAGS := -std=c++17 -Wall -Wextra -Werror -g -O1 -I$(FW)/src -I$(FW)
FW_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ARM_CXX ?= arm-none-eabi-g++
ARM_SIZE ?= arm-none-eabi-size
ARM_NM ?= arm-none-eabi-nm
# Cortex-M4 with single-precision FPU, hard-float ABI for this bare-metal cross-compile. The board build differs:
# the Arduino mbed core compiles with -mfloat-abi=softfp (board.mk runs its recipe).
FW_ARM_FLAGS := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -std=c++17 -Os -Wall -Wextra -Werror \
                -fno-exceptions -fno-rtti -fno-threadsafe-statics -ffunction-sections -fdata-sections \
                -I$(FW)/src -I$(FW_FIXTURE)

FUZZ_CXX ?= clang++
FUZZ_SECONDS ?= 20
FW_FUZZ_SRCS := $(FW_CORE) $(FW_HOST_SRCS) $(FW)/tests/reference_config.cc $(FW)/tests/device_fuzz.cc

# ---- host: unit tests and golden vectors -------------------------------------------------------------------
$(FW_BUILD)/host/unit_tests: $(FW_CORE) $(FW_CORE_TESTS) $(FW_HOST_SRCS) $(FW_TEST_SUPPORT) $(FW_HEADERS) \
                             $(FW)/src/frontend/frontend.cc $(FW_FRONTEND_TESTS) $(FW_FIXTURE)/generated/model_settings.h
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) $(FW_SANITIZE) -I$(FW_FIXTURE) $(FW_CORE) $(FW_CORE_TESTS) $(FW_HOST_SRCS) \
	    $(FW)/src/frontend/frontend.cc $(FW_FRONTEND_TESTS) $(FW_TEST_SUPPORT) -o $@

firmware-test: $(FW_BUILD)/host/unit_tests  ## the firmware's host unit tests and golden vectors (ASan/UBSan)
	$< $(FW_GOLDEN)

# One script run writes all fixture files (with quantize/codegen.py); model_settings.h stands for them.
$(FW_FIXTURE)/generated/model_settings.h: $(FW)/tests/make_fixture.py quantize/codegen.py host/virtual_backends.py | venv
	$(PY) $< $(FW_FIXTURE)

$(FW_FIXTURE_SRCS): $(FW_FIXTURE)/generated/model_settings.h ;

$(FW_BUILD)/host/sim_fake: $(FW_CORE) $(FW_HOST_SRCS) $(FW)/src/app/app.cc $(FW)/src/app/main_host.cc $(FW_FIXTURE_SRCS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) $(FW_SANITIZE) -I$(FW_FIXTURE) $(filter %.cc,$^) -o $@

firmware-sim-fake: $(FW_BUILD)/host/sim_fake  ## the firmware on stdin/stdout with the fake inference (no model)

# ---- cross-compile for the Cortex-M4F, size report ---------------------------------------------------------
FW_ARM_OBJS := $(patsubst %.cc,$(FW_BUILD)/arm/%.o,$(FW_CORE) $(FW)/src/app/app.cc $(FW)/src/inference/inference_fake.cc \
                 $(call fw_srcs,$(FW_FRONTEND_SRCS))) \
               $(FW_BUILD)/arm/fixture/model_data.o $(FW_BUILD)/arm/fixture/selftest_data.o

$(FW_BUILD)/arm/%.o: %.cc $(FW_HEADERS) $(FW_FIXTURE_SRCS)
	@mkdir -p $(@D)
	$(ARM_CXX) $(FW_ARM_FLAGS) -c $< -o $@

$(FW_BUILD)/arm/fixture/%.o: $(FW_FIXTURE)/generated/%.cc
	@mkdir -p $(@D)
	$(ARM_CXX) $(FW_ARM_FLAGS) -c $< -o $@

firmware-cross: $(FW_ARM_OBJS)  ## the portable core cross-compiled for the Cortex-M4F, sizes and forbidden symbols
	$(PYTHON_SYS) $(FW)/tools/size_report.py --size $(ARM_SIZE) --nm $(ARM_NM) --out $(FW_BUILD)/size.json \
	    --core $(filter $(FW_BUILD)/arm/$(FW)/src/core/%,$(FW_ARM_OBJS)) \
	    --app $(filter-out $(FW_BUILD)/arm/$(FW)/src/core/%,$(FW_ARM_OBJS))

# ---- bounded fuzz run of the parser and dispatcher ----------------------------------------------------------
$(FW_BUILD)/fuzz/device_fuzz: $(FW_FUZZ_SRCS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CXX) -std=c++17 -g -O1 -I$(FW)/src -I$(FW) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(FW_FUZZ_SRCS) -o $@

firmware-fuzz: $(FW_BUILD)/fuzz/device_fuzz  ## the protocol parser and dispatcher under libFuzzer (FUZZ_SECONDS=)
	@mkdir -p $(FW_BUILD)/fuzz/corpus
	$< -dict=$(FW)/tests/fuzz.dict -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 \
	    -print_final_stats=1 $(FW_BUILD)/fuzz/corpus

firmware-check: firmware-test firmware-cross firmware-fuzz  ## host unit tests, Cortex-M4F cross-compile with sizes, fuzzing of the parser

include firmware/board.mk
include firmware/emu/emu.mk
include firmware/native.mk
include firmware/listen.mk
