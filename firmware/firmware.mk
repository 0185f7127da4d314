# Firmware targets, included by the top-level Makefile (which defines BUILD, PY, PYTHON_SYS and venv).
#   board builds (make firmware, flash, firmware-arduino, firmware-board-check): firmware/board.mk
#   make firmware-check    what CI runs: host unit tests + golden vectors (ASan/UBSan), Cortex-M4F cross-compile
#                          with size report, bounded libFuzzer run
#   make firmware-sim      host simulator: the firmware with real TFLM (host reference kernels) and the generated
#                          model on stdin/stdout (firmware/emu/emu.mk); firmware-sim-fake: with the fake inference

.PHONY: firmware-check firmware-test firmware-cross firmware-fuzz firmware-sim-fake

FW := firmware
FW_BUILD := $(BUILD)/firmware
FW_GEN_SRC := $(BUILD)/gen
FW_GEN_FILES := model_data.h model_data.cc model_settings.h selftest_data.h selftest_data.cc
FW_GEN_DST := $(FW)/src/generated
# The native engine (ENGINE=native): the generated model (quantize/native.py) and its kernels.
FW_NATIVE_GEN_FILES := native_model.h native_model.cc
FW_NATIVE_SRCS := $(FW)/src/inference/inference_native.cc $(FW)/src/native/kernels.cc

FW_CORE_SRCS := $(addprefix $(FW)/src/core/,crc16.cc command.cc line_reader.cc line_writer.cc input_buffer.cc device.cc)
FW_CORE_TESTS := $(wildcard $(FW)/src/core/*_test.cc)
FW_HOST_SRCS := $(FW)/src/platform/platform_host.cc $(FW)/src/inference/inference_fake.cc \
                $(FW)/src/inference/audio_frontend_fake.cc
# The audio front end: built with a model's generated model_settings.h (the reference fixture in the host tests).
FW_FRONTEND_SRCS := $(FW)/src/frontend/frontend.cc $(FW)/src/frontend/audio_frontend.cc
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
FW_FUZZ_SRCS := $(FW_CORE_SRCS) $(FW_HOST_SRCS) $(FW)/tests/reference_config.cc $(FW)/tests/device_fuzz.cc

# ---- host: unit tests and golden vectors -------------------------------------------------------------------
$(FW_BUILD)/host/unit_tests: $(FW_CORE_SRCS) $(FW_CORE_TESTS) $(FW_HOST_SRCS) $(FW_TEST_SUPPORT) $(FW_HEADERS) \
                             $(FW)/src/frontend/frontend.cc $(FW_FRONTEND_TESTS) $(FW_FIXTURE)/generated/model_settings.h
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) $(FW_SANITIZE) -I$(FW_FIXTURE) $(FW_CORE_SRCS) $(FW_CORE_TESTS) $(FW_HOST_SRCS) \
	    $(FW)/src/frontend/frontend.cc $(FW_FRONTEND_TESTS) $(FW_TEST_SUPPORT) -o $@

firmware-test: $(FW_BUILD)/host/unit_tests
	$< $(FW_GOLDEN)

# One script run writes all fixture files (with quantize/codegen.py); model_settings.h stands for them.
$(FW_FIXTURE)/generated/model_settings.h: $(FW)/tests/make_fixture.py quantize/codegen.py host/virtual_backends.py | venv
	$(PY) $< $(FW_FIXTURE)

$(FW_FIXTURE_SRCS): $(FW_FIXTURE)/generated/model_settings.h ;

$(FW_BUILD)/host/sim_fake: $(FW_CORE_SRCS) $(FW_HOST_SRCS) $(FW)/src/app/app.cc $(FW)/src/app/main_host.cc $(FW_FIXTURE_SRCS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) $(FW_SANITIZE) -I$(FW_FIXTURE) $(filter %.cc,$^) -o $@

firmware-sim-fake: $(FW_BUILD)/host/sim_fake

# ---- cross-compile for the Cortex-M4F, size report ---------------------------------------------------------
FW_ARM_OBJS := $(patsubst %.cc,$(FW_BUILD)/arm/%.o,$(FW_CORE_SRCS) $(FW)/src/app/app.cc $(FW)/src/inference/inference_fake.cc \
                 $(FW_FRONTEND_SRCS)) \
               $(FW_BUILD)/arm/fixture/model_data.o $(FW_BUILD)/arm/fixture/selftest_data.o

$(FW_BUILD)/arm/%.o: %.cc $(FW_HEADERS) $(FW_FIXTURE_SRCS)
	@mkdir -p $(@D)
	$(ARM_CXX) $(FW_ARM_FLAGS) -c $< -o $@

$(FW_BUILD)/arm/fixture/%.o: $(FW_FIXTURE)/generated/%.cc
	@mkdir -p $(@D)
	$(ARM_CXX) $(FW_ARM_FLAGS) -c $< -o $@

firmware-cross: $(FW_ARM_OBJS)
	$(PYTHON_SYS) $(FW)/tools/size_report.py --size $(ARM_SIZE) --nm $(ARM_NM) --out $(FW_BUILD)/size.json \
	    --core $(filter $(FW_BUILD)/arm/$(FW)/src/core/%,$(FW_ARM_OBJS)) \
	    --app $(filter-out $(FW_BUILD)/arm/$(FW)/src/core/%,$(FW_ARM_OBJS))

# ---- bounded fuzz run of the parser and dispatcher ----------------------------------------------------------
$(FW_BUILD)/fuzz/device_fuzz: $(FW_FUZZ_SRCS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CXX) -std=c++17 -g -O1 -I$(FW)/src -I$(FW) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(FW_FUZZ_SRCS) -o $@

firmware-fuzz: $(FW_BUILD)/fuzz/device_fuzz
	@mkdir -p $(FW_BUILD)/fuzz/corpus
	$< -dict=$(FW)/tests/fuzz.dict -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 \
	    -print_final_stats=1 $(FW_BUILD)/fuzz/corpus

firmware-check: firmware-test firmware-cross firmware-fuzz

include firmware/board.mk
include firmware/emu/emu.mk
include firmware/native.mk
include firmware/listen.mk
