# The real firmware on an emulated Cortex-M4F (QEMU -M mps2-an386), included by firmware.mk.
#   make firmware-emu [KERNELS=cmsis|ref] [OPT=Os|O2]   -> $(FW_BUILD)/emu/<kernels>-<opt>/firmware.elf (+ .map)
#   make harness PORT=emu                                 starts QEMU on the image and streams the test clips
# Same sources as the board (src/core, app.cc, inference_tflm.cc, the generated model of `make quantize`) with
# platform_mps2.cc, firmware/emu/ (startup, linker script, syscalls, TFLM log/timer hooks, main) and the pinned
# TFLM tree $(TFLM_CM4). TFLM is compiled once per configuration into a static library under
# $(FW_BUILD)/tflm/<kernels>-<opt>/ (kept across runs and models); the linker takes only what the model needs.
# FW_EMU_GEN / FW_EMU_DIR point at another model's generated files and image folder (the tests' smoke build).

.PHONY: firmware-emu emu-image

KERNELS ?= cmsis
OPT ?= Os
# ENGINE=native: the native engine (src/native, the generated native_model.cc) instead of TFLM; KERNELS unused.
ENGINE ?= tflm
ifneq ($(filter firmware-emu emu-image firmware-sim sim-image firmware-listen-emu listen-emu-image,$(MAKECMDGOALS)),)
ifeq ($(filter $(KERNELS),cmsis ref),)
$(error KERNELS must be cmsis or ref, not '$(KERNELS)')
endif
ifeq ($(filter $(ENGINE),tflm native),)
$(error ENGINE must be tflm or native, not '$(ENGINE)')
endif
ifeq ($(filter $(OPT),Os O2),)
$(error OPT must be Os or O2, not '$(OPT)')
endif
endif
EMU_NATIVE := $(filter native,$(ENGINE))
EMU_CONFIG := $(if $(EMU_NATIVE),native,$(KERNELS))-$(OPT)
EMU_KERNELS_NAME := $(if $(EMU_NATIVE),native,$(if $(filter cmsis,$(KERNELS)),cmsis-nn,reference))
FW_EMU_GEN ?= $(FW_GEN_SRC)
FW_EMU_DIR ?= $(FW_BUILD)/emu/$(EMU_CONFIG)
EMU_TFLM_DIR := $(FW_BUILD)/tflm/$(EMU_CONFIG)
EMU_TFLM_LIB := $(EMU_TFLM_DIR)/libtflm.a

ARM_CC ?= arm-none-eabi-gcc
EMU_ARCH := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
EMU_COMMON := $(EMU_ARCH) -$(OPT) -ffunction-sections -fdata-sections -g
# TFLM's own compile flags (its Makefile and ext_libs/cmsis_nn.inc); -isystem keeps its warnings out of -Werror.
TFLM_DEFS := -DTF_LITE_STATIC_MEMORY $(if $(filter cmsis,$(KERNELS)),-DCMSIS_NN,)
TFLM_INCS := $(addprefix -isystem $(TFLM_CM4)/,. third_party/flatbuffers/include third_party/gemmlowp third_party/ruy \
               third_party/kissfft $(if $(filter cmsis,$(KERNELS)),third_party/cmsis_nn third_party/cmsis_nn/Include \
               third_party/cmsis/CMSIS/Core/Include,))
EMU_CXX_BASE := $(EMU_COMMON) -std=c++17 -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-unwind-tables \
                $(TFLM_DEFS) $(TFLM_INCS)
TFLM_CXXFLAGS := $(EMU_CXX_BASE) -w
TFLM_CFLAGS := $(EMU_COMMON) -std=c11 $(TFLM_DEFS) $(TFLM_INCS) -w
EMU_FW_CXXFLAGS := $(EMU_CXX_BASE) -Wall -Wextra -Werror -I$(FW)/src -I$(FW_EMU_DIR)/gen \
                   -DFW_KERNELS='"$(EMU_KERNELS_NAME)"' -DFW_OPT='"$(OPT)"'
EMU_FW_CFLAGS := $(EMU_COMMON) -std=c11 -Wall -Wextra -Werror

# ---- TFLM library (the source lists need the unpacked tree: emu-image runs in a sub-make after the stamp) ---
TFLM_KDIR := tensorflow/lite/micro/kernels
# The framework: everything but the kernels (chosen below), tests and test doubles, the signal library, kissfft,
# and the generic Cortex-M log/timer (replaced by firmware/emu/tflm_port.cc).
TFLM_CORE_SRCS = $(shell cd $(TFLM_CM4) 2>/dev/null && find tensorflow -name '*.cc' \
    -not -path '$(TFLM_KDIR)/*' -not -path '*/cortex_m_generic/*' -not -name '*test*' \
    -not -name 'fake_micro_context.cc' -not -name 'mock_micro_graph.cc' | sort)
# Only the kernel files of the operators inference_tflm.cc registers (LSTM, REVERSE_V2, MEAN, CONCATENATION,
# FULLY_CONNECTED, SOFTMAX) and their helpers: compiling all 117 kernels would triple the build time. A new
# operator in the resolver fails the link with "undefined reference to tflite::Register_<OP>": add its files here.
TFLM_KERNEL_STEMS := unidirectional_sequence_lstm lstm_eval lstm_eval_common micro_tensor_utils kernel_util \
                     reverse reduce reduce_common concatenation fully_connected fully_connected_common softmax \
                     softmax_common
# CMSIS-NN replaces the reference file of the same name; for KERNELS=ref those reference files come from the host
# tree of the same TFLM revision (the Cortex-M tree ships only the CMSIS-NN version of them).
TFLM_OPT_STEMS = $(filter $(TFLM_KERNEL_STEMS),$(basename $(notdir $(wildcard $(TFLM_CM4)/$(TFLM_KDIR)/cmsis_nn/*.cc))))
TFLM_GENERIC_STEMS = $(filter-out $(TFLM_OPT_STEMS),$(TFLM_KERNEL_STEMS))
# The CMSIS-NN function groups those kernels call.
CMSIS_NN_GROUPS := ActivationFunctions BasicMathFunctions ConvolutionFunctions FullyConnectedFunctions LSTMFunctions \
                   NNSupportFunctions SoftmaxFunctions
CMSIS_NN_SRCS = $(shell cd $(TFLM_CM4)/third_party/cmsis_nn/Source 2>/dev/null && \
                  find $(CMSIS_NN_GROUPS) -name '*.c' | sort)

ifeq ($(KERNELS),cmsis)
TFLM_LIB_OBJS = $(patsubst %,$(EMU_TFLM_DIR)/obj/%.o,$(TFLM_CORE_SRCS) \
                  $(patsubst %,$(TFLM_KDIR)/%.cc,$(TFLM_GENERIC_STEMS)) \
                  $(patsubst %,$(TFLM_KDIR)/cmsis_nn/%.cc,$(TFLM_OPT_STEMS)) \
                  $(addprefix third_party/cmsis_nn/Source/,$(CMSIS_NN_SRCS)))
else
TFLM_LIB_OBJS = $(patsubst %,$(EMU_TFLM_DIR)/obj/%.o,$(TFLM_CORE_SRCS) \
                  $(patsubst %,$(TFLM_KDIR)/%.cc,$(TFLM_GENERIC_STEMS))) \
                $(patsubst %,$(EMU_TFLM_DIR)/obj/host-kernels/%.cc.o,$(TFLM_OPT_STEMS))
endif

$(EMU_TFLM_DIR)/obj/host-kernels/%.cc.o: $(TFLM_HOST)/$(TFLM_KDIR)/%.cc
	@mkdir -p $(@D)
	@echo "  CXX  $(EMU_CONFIG) $*.cc (reference)"
	@$(ARM_CXX) $(TFLM_CXXFLAGS) -c $< -o $@
$(EMU_TFLM_DIR)/obj/%.cc.o: $(TFLM_CM4)/%.cc
	@mkdir -p $(@D)
	@echo "  CXX  $(EMU_CONFIG) $*.cc"
	@$(ARM_CXX) $(TFLM_CXXFLAGS) -c $< -o $@
$(EMU_TFLM_DIR)/obj/%.c.o: $(TFLM_CM4)/%.c
	@mkdir -p $(@D)
	@echo "  CC   $(EMU_CONFIG) $*.c"
	@$(ARM_CC) $(TFLM_CFLAGS) -c $< -o $@

$(EMU_TFLM_LIB): $(TFLM_LIB_OBJS)
	@rm -f $@
	@echo "  AR   $@"
	@$(ARM_AR) rcs $@ $^

# ---- the firmware image ------------------------------------------------------------------------------------
ARM_AR ?= arm-none-eabi-ar
# The native engine needs its generated model and kernels instead of the flatbuffer, TFLM and its port.
EMU_GEN_FILES := $(addprefix $(FW_EMU_DIR)/gen/generated/,$(FW_GEN_FILES) $(if $(EMU_NATIVE),$(FW_NATIVE_GEN_FILES)))
EMU_ENGINE_SRCS := $(if $(EMU_NATIVE),$(FW_NATIVE_SRCS),$(FW)/src/inference/inference_tflm.cc $(FW)/emu/tflm_port.cc)
EMU_FW_SRCS := $(FW_CORE_SRCS) $(FW_FRONTEND_SRCS) $(FW)/src/app/app.cc $(EMU_ENGINE_SRCS) $(FW)/src/platform/platform_mps2.cc \
               $(FW)/emu/main_emu.cc
EMU_FW_OBJS := $(patsubst %,$(FW_EMU_DIR)/obj/%.o,$(EMU_FW_SRCS) $(FW)/emu/startup.c $(FW)/emu/syscalls.c) \
               $(FW_EMU_DIR)/obj/generated/selftest_data.cc.o \
               $(FW_EMU_DIR)/obj/generated/$(if $(EMU_NATIVE),native_model,model_data).cc.o
EMU_LIBS := $(if $(EMU_NATIVE),,$(EMU_TFLM_LIB))
EMU_LDSCRIPT := $(FW)/emu/mps2_an386.ld
.SECONDARY: $(EMU_GEN_FILES)

$(FW_EMU_DIR)/gen/generated/%: $(FW_EMU_GEN)/%
	@mkdir -p $(@D)
	@cp $< $@

$(FW_EMU_GEN)/%:
	@echo "error: $@ is missing: run 'make quantize' first (it generates the model C array and settings)" >&2; exit 1

$(FW_EMU_DIR)/obj/%.cc.o: %.cc $(FW_HEADERS) $(EMU_GEN_FILES)
	@mkdir -p $(@D)
	@echo "  CXX  $<"
	@$(ARM_CXX) $(EMU_FW_CXXFLAGS) -c $< -o $@
$(FW_EMU_DIR)/obj/%.c.o: %.c
	@mkdir -p $(@D)
	@echo "  CC   $<"
	@$(ARM_CC) $(EMU_FW_CFLAGS) -c $< -o $@
$(FW_EMU_DIR)/obj/generated/%.cc.o: $(FW_EMU_DIR)/gen/generated/%.cc $(EMU_GEN_FILES) $(FW_HEADERS)
	@mkdir -p $(@D)
	@echo "  CXX  $<"
	@$(ARM_CXX) $(EMU_FW_CXXFLAGS) -c $< -o $@

$(FW_EMU_DIR)/firmware.elf: $(EMU_FW_OBJS) $(EMU_LIBS) $(EMU_LDSCRIPT)
	@echo "  LD   $@"
	@$(ARM_CXX) $(EMU_ARCH) --specs=nano.specs -nostartfiles -T $(EMU_LDSCRIPT) -Wl,--gc-sections \
	    -Wl,-Map=$(FW_EMU_DIR)/firmware.map $(EMU_FW_OBJS) $(EMU_LIBS) -lm -o $@
	@$(ARM_SIZE) $@

emu-image: $(FW_EMU_DIR)/firmware.elf

firmware-emu: $(if $(EMU_NATIVE),,$(TFLM_CM4_STAMP) $(if $(filter ref,$(KERNELS)),$(TFLM_HOST_STAMP),))
	@$(MAKE) --no-print-directory emu-image

# ---- cost per configuration (ref/CMSIS-NN x Os/O2) into $(BUILD)/bench.json under "emulated" ---------------
.PHONY: bench-emulated
bench-emulated: venv
	$(PY) -m experiments.emulated --build $(BUILD)

# ---- host simulator with the real inference: inference_tflm.cc on the host TFLM tree (reference kernels) -------
#   make firmware-sim  -> $(FW_SIM_DIR)/sim: the firmware on stdin/stdout (main_host.cc), the model of FW_SIM_GEN
#   make firmware-sim ENGINE=native -> the same with the native engine (portable C path, no TFLM)
# ENGINE=native: the native engine instead of TFLM (no TFLM library), image in $(FW_BUILD)/host-native.
FW_SIM_GEN ?= $(FW_GEN_SRC)
FW_SIM_DIR ?= $(FW_BUILD)/host$(if $(EMU_NATIVE),-native,)
SIM_TFLM_DIR := $(FW_BUILD)/tflm/host
SIM_TFLM_LIB := $(SIM_TFLM_DIR)/libtflm.a
SIM_TFLM_INCS := $(addprefix -isystem $(TFLM_HOST)/,. third_party/flatbuffers/include third_party/gemmlowp \
                   third_party/ruy third_party/kissfft)
SIM_TFLM_CXXFLAGS := -std=c++17 -O2 -g -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY $(SIM_TFLM_INCS) -w
# The host tree's own debug_log.cc (stderr) and micro_time.cc are part of its framework sources.
SIM_TFLM_SRCS = $(shell cd $(TFLM_HOST) 2>/dev/null && find tensorflow -name '*.cc' -not -path '$(TFLM_KDIR)/*' \
    -not -name '*test*' -not -name 'fake_micro_context.cc' -not -name 'mock_micro_graph.cc' | sort) \
    $(patsubst %,$(TFLM_KDIR)/%.cc,$(TFLM_KERNEL_STEMS))
SIM_GEN_FILES := $(addprefix $(FW_SIM_DIR)/gen/generated/,$(FW_GEN_FILES) $(if $(EMU_NATIVE),$(FW_NATIVE_GEN_FILES)))
SIM_SRCS := $(FW_CORE_SRCS) $(FW_FRONTEND_SRCS) $(FW)/src/app/app.cc $(FW)/src/app/main_host.cc \
            $(FW)/src/platform/platform_host.cc \
            $(if $(EMU_NATIVE),$(FW_NATIVE_SRCS),$(FW)/src/inference/inference_tflm.cc)
SIM_MODEL_SRCS := $(FW_SIM_DIR)/gen/generated/selftest_data.cc \
                  $(FW_SIM_DIR)/gen/generated/$(if $(EMU_NATIVE),native_model,model_data).cc
SIM_LIBS := $(if $(EMU_NATIVE),,$(SIM_TFLM_LIB))

$(SIM_TFLM_DIR)/obj/%.cc.o: $(TFLM_HOST)/%.cc
	@mkdir -p $(@D)
	@echo "  CXX  host $*.cc"
	@$(HOST_CXX) $(SIM_TFLM_CXXFLAGS) -c $< -o $@

$(SIM_TFLM_LIB): $(patsubst %,$(SIM_TFLM_DIR)/obj/%.o,$(SIM_TFLM_SRCS))
	@rm -f $@
	@echo "  AR   $@"
	@ar rcs $@ $^

$(FW_SIM_DIR)/gen/generated/%: $(FW_SIM_GEN)/%
	@mkdir -p $(@D)
	cp $< $@

.SECONDARY: $(SIM_GEN_FILES)

$(FW_SIM_DIR)/sim: $(SIM_SRCS) $(SIM_GEN_FILES) $(SIM_LIBS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) $(FW_SANITIZE) -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY $(SIM_TFLM_INCS) -I$(FW_SIM_DIR)/gen \
	    $(SIM_SRCS) $(SIM_MODEL_SRCS) $(SIM_LIBS) -o $@

.PHONY: firmware-sim sim-image
sim-image: $(FW_SIM_DIR)/sim

firmware-sim: $(if $(EMU_NATIVE),,$(TFLM_HOST_STAMP))
	@$(MAKE) --no-print-directory sim-image
