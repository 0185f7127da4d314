# The real firmware on an emulated Cortex-M4F (QEMU -M mps2-an386), included by firmware.mk.
#   make firmware-emu [ENGINE=native|tflm] [KERNELS=cmsis|ref] [OPT=Os|O2]
#                     -> $(FW_MODEL)/firmware/emu/<config>/firmware.elf (+ .map); <config> native-<opt> or <kernels>-<opt>
#   make harness PORT=emu                                 starts QEMU on the image and streams the test clips
# Sources: IMAGE_emu_<engine> of firmware/sources.mk (the board's, with platform_mps2.cc and firmware/emu/: startup,
# linker script, syscalls, TFLM log/timer hooks, main). TFLM is compiled once per configuration into a static library
# in the third-party cache (TP_CACHE, kept across runs, models and clones); the linker takes only what the model needs.

.PHONY: firmware-emu emu-image

EMU_NATIVE := $(filter native,$(ENGINE))
EMU_CONFIG := $(if $(EMU_NATIVE),native,$(KERNELS))-$(OPT)
EMU_KERNELS_NAME := $(if $(EMU_NATIVE),native,$(if $(filter cmsis,$(KERNELS)),cmsis-nn,reference))
FW_EMU_DIR := $(FW_MODEL_BUILD)/emu/$(EMU_CONFIG)

ARM_CC ?= arm-none-eabi-gcc
ARM_AR ?= arm-none-eabi-ar
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
EMU_FW_CXXFLAGS := $(EMU_CXX_BASE) -Wall -Wextra -Werror -I$(FW)/src -I$(FW_GEN_INC) \
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

# The library's folder in the third-party cache: keyed on the trees, the compiler and everything that picks the files
# and flags (TP_CACHE= keeps it in build/firmware/tflm/).
EMU_TFLM_KEY := $(call tp_key,$(call tree_id,$(TFLM_CM4),TFLM_CM4) $(call tree_id,$(TFLM_HOST),TFLM_HOST) \
    $(shell $(ARM_CXX) -dumpfullversion 2>/dev/null) $(subst $(TFLM_HOST),<host>,$(subst $(TFLM_CM4),<cm4>,\
    $(TFLM_CXXFLAGS) $(TFLM_CFLAGS))) $(TFLM_KERNEL_STEMS) $(CMSIS_NN_GROUPS))
EMU_TFLM_DIR := $(if $(TP_CACHE),$(TP_CACHE)/tflm-emu-$(KERNELS)-$(OPT)-$(EMU_TFLM_KEY),$(FW_BUILD)/tflm/$(KERNELS)-$(OPT))
EMU_TFLM_LIB := $(EMU_TFLM_DIR)/libtflm.a

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

# Objects and archives of the shared cache are written under a name of this process and renamed: two builds sharing
# the cache never see half a file. $(call tp_out,<command writing $$tmp>)
tp_out = @tmp=$@.$$$$.tmp; $(1) && mv -f $$tmp $@ || { rm -f $$tmp; exit 1; }
$(EMU_TFLM_DIR)/obj/host-kernels/%.cc.o: $(TFLM_HOST)/$(TFLM_KDIR)/%.cc
	@mkdir -p $(@D)
	@echo "  CXX  $(EMU_CONFIG) $*.cc (reference)"
	$(call tp_out,$(ARM_CXX) $(TFLM_CXXFLAGS) -c $< -o $$tmp)
$(EMU_TFLM_DIR)/obj/%.cc.o: $(TFLM_CM4)/%.cc
	@mkdir -p $(@D)
	@echo "  CXX  $(EMU_CONFIG) $*.cc"
	$(call tp_out,$(ARM_CXX) $(TFLM_CXXFLAGS) -c $< -o $$tmp)
$(EMU_TFLM_DIR)/obj/%.c.o: $(TFLM_CM4)/%.c
	@mkdir -p $(@D)
	@echo "  CC   $(EMU_CONFIG) $*.c"
	$(call tp_out,$(ARM_CC) $(TFLM_CFLAGS) -c $< -o $$tmp)

# A library in the cache is complete (it is renamed into place last) and its key says what it was built from: it is
# not checked against its objects, whose sources a fresh clone unpacks with new times. A tree of your own is.
EMU_TFLM_PINNED := $(and $(TP_CACHE),$(TFLM_CM4_STAMP),$(or $(filter cmsis,$(KERNELS)),$(TFLM_HOST_STAMP)))
$(EMU_TFLM_LIB): $(if $(and $(EMU_TFLM_PINNED),$(wildcard $(EMU_TFLM_LIB))),,$(TFLM_LIB_OBJS))
	@echo "  AR   $@"
	$(call tp_out,$(ARM_AR) rcs $$tmp $^)

# ---- the firmware image ------------------------------------------------------------------------------------
EMU_LDSCRIPT := $(FW)/emu/mps2_an386.ld
# $(call emu_objs,<sources.mk list>): the objects of a list in $(FW_EMU_DIR)/obj/ (generated/... included).
emu_objs = $(patsubst %,$(FW_EMU_DIR)/obj/%.o,$(1))
EMU_FW_OBJS := $(call emu_objs,$(IMAGE_emu_$(ENGINE)))
EMU_LIBS := $(if $(EMU_NATIVE),,$(EMU_TFLM_LIB))

$(FW_EMU_DIR)/obj/%.cc.o: $(FW)/%.cc $(FW_HEADERS) $(FW_GEN_COPIES)
	@mkdir -p $(@D)
	@echo "  CXX  $<"
	@$(ARM_CXX) $(EMU_FW_CXXFLAGS) -c $< -o $@
$(FW_EMU_DIR)/obj/%.c.o: $(FW)/%.c
	@mkdir -p $(@D)
	@echo "  CC   $<"
	@$(ARM_CC) $(EMU_FW_CFLAGS) -c $< -o $@
$(FW_EMU_DIR)/obj/generated/%.cc.o: $(FW_GEN_INC)/generated/%.cc $(FW_GEN_COPIES) $(FW_HEADERS)
	@mkdir -p $(@D)
	@echo "  CXX  $<"
	@$(ARM_CXX) $(EMU_FW_CXXFLAGS) -c $< -o $@

$(FW_EMU_DIR)/firmware.elf: $(EMU_FW_OBJS) $(EMU_LIBS) $(EMU_LDSCRIPT)
	@echo "  LD   $@"
	@$(ARM_CXX) $(EMU_ARCH) --specs=nano.specs -nostartfiles -T $(EMU_LDSCRIPT) -Wl,--gc-sections \
	    -Wl,-Map=$(FW_EMU_DIR)/firmware.map $(EMU_FW_OBJS) $(EMU_LIBS) -lm -o $@
	@$(ARM_SIZE) $@

emu-image: $(FW_EMU_DIR)/firmware.elf  ## (used by firmware-emu, after the TFLM tree is unpacked) link the emulated image

# TFLM's trees are unpacked first: the library's source lists are read from them (emu-image in a sub-make).
EMU_TFLM_TREES := $(if $(EMU_NATIVE),,$(TFLM_CM4_STAMP) $(if $(filter ref,$(KERNELS)),$(TFLM_HOST_STAMP),))
firmware-emu: $(EMU_TFLM_TREES)  ## the real firmware for QEMU mps2-an386 (ENGINE=native|tflm, KERNELS=cmsis|ref, OPT=Os|O2)
	@$(MAKE) --no-print-directory emu-image

# ---- cost per configuration (ref/CMSIS-NN x Os/O2, native) into $(BUILD)/bench.json under "emulated" -------------
.PHONY: bench-emulated
bench-emulated: venv  ## instructions, flash/RAM by origin, stack per configuration, TFLM and native (emulated)
	$(PY) -m experiments.emulated --build $(BUILD)

# ---- host simulator with the real inference: the firmware on stdin/stdout (IMAGE_host_<engine>) ------------------
#   make firmware-sim [ENGINE=native|tflm]  -> $(FW_MODEL)/firmware/host-<engine>/sim; TFLM: the host tree's
#                                               reference kernels, native: the portable C path
FW_SIM_DIR := $(FW_MODEL_BUILD)/host-$(ENGINE)
SIM_TFLM_INCS := $(addprefix -isystem $(TFLM_HOST)/,. third_party/flatbuffers/include third_party/gemmlowp \
                   third_party/ruy third_party/kissfft)
SIM_TFLM_CXXFLAGS := -std=c++17 -O2 -g -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY $(SIM_TFLM_INCS) -w
SIM_TFLM_KEY := $(call tp_key,$(call tree_id,$(TFLM_HOST),TFLM_HOST) $(shell $(HOST_CXX) -dumpfullversion 2>/dev/null) \
    $(subst $(TFLM_HOST),<host>,$(SIM_TFLM_CXXFLAGS)) $(TFLM_KERNEL_STEMS))
SIM_TFLM_DIR := $(if $(TP_CACHE),$(TP_CACHE)/tflm-host-$(SIM_TFLM_KEY),$(FW_BUILD)/tflm/host)
SIM_TFLM_LIB := $(SIM_TFLM_DIR)/libtflm.a
# The host tree's own debug_log.cc (stderr) and micro_time.cc are part of its framework sources.
SIM_TFLM_SRCS = $(shell cd $(TFLM_HOST) 2>/dev/null && find tensorflow -name '*.cc' -not -path '$(TFLM_KDIR)/*' \
    -not -name '*test*' -not -name 'fake_micro_context.cc' -not -name 'mock_micro_graph.cc' | sort) \
    $(patsubst %,$(TFLM_KDIR)/%.cc,$(TFLM_KERNEL_STEMS))
SIM_SRCS := $(call fw_srcs,$(IMAGE_host_$(ENGINE)))
SIM_LIBS := $(if $(EMU_NATIVE),,$(SIM_TFLM_LIB))
# The flags of every host image that may include TFLM headers (the simulators, the native engine's host tools).
SIM_FW_FLAGS := -fno-exceptions -fno-rtti -DTF_LITE_STATIC_MEMORY $(SIM_TFLM_INCS) -I$(FW_GEN_INC)

$(SIM_TFLM_DIR)/obj/%.cc.o: $(TFLM_HOST)/%.cc
	@mkdir -p $(@D)
	@echo "  CXX  host $*.cc"
	$(call tp_out,$(HOST_CXX) $(SIM_TFLM_CXXFLAGS) -c $< -o $$tmp)

SIM_TFLM_PINNED := $(and $(TP_CACHE),$(TFLM_HOST_STAMP))
$(SIM_TFLM_LIB): $(if $(and $(SIM_TFLM_PINNED),$(wildcard $(SIM_TFLM_LIB))),,$(patsubst %,$(SIM_TFLM_DIR)/obj/%.o,$(SIM_TFLM_SRCS)))
	@echo "  AR   $@"
	$(call tp_out,ar rcs $$tmp $^)

$(FW_SIM_DIR)/sim: $(SIM_SRCS) $(FW_GEN_COPIES) $(SIM_LIBS) $(FW_HEADERS)
	@mkdir -p $(@D)
	$(HOST_CXX) $(FW_HOST_FLAGS) $(FW_SANITIZE) $(SIM_FW_FLAGS) $(SIM_SRCS) $(SIM_LIBS) -o $@

.PHONY: firmware-sim sim-image
sim-image: $(FW_SIM_DIR)/sim  ## (used by firmware-sim, after the TFLM tree is unpacked) build the host simulator

firmware-sim: $(if $(EMU_NATIVE),,$(TFLM_HOST_STAMP))  ## the firmware on the host, stdin/stdout (ENGINE=native|tflm; TFLM: host reference kernels)
	@$(MAKE) --no-print-directory sim-image
