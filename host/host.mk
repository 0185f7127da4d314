# Host harness targets (included by the top Makefile, which defines PY, BUILD and venv).
# make harness [PORT=/dev/ttyACM0|socket://host:port|virtual|emu|emu:<kernels>-<opt>] [ENGINE=native] [DATA=<folder>] [N=<clips>]
#              [RESUME=1] [INPUT=features|audio]   (INPUT=audio: 16-bit audio, the device computes the features;
#              PORT=emu builds the emulated firmware first: make firmware-emu, firmware/emu/emu.mk)
# make predict (FILE=clip.wav | RANDOM=1) [BACKEND=float|int8|tflm|native|device] [PORT=…]
# make virtual-device   a virtual board on a pty at $(BUILD)/virtual-tty, for serial monitors and PORT=
# make frontend-lib     the firmware's audio front end for the host (ctypes): $(BUILD)/frontend/libfrontend.so
PORT ?=
N ?=
RESUME ?=
FILE ?=
RANDOM ?=
BACKEND ?= tflm
# features: the host's int8 features (LOAD/INFER); audio: the clips' audio, the device's front end (AUDIO/HEAR).
INPUT ?= features

.PHONY: harness predict virtual-device frontend-lib

# PORT=emu ENGINE=native: the native engine's image, i.e. PORT=emu:native-<OPT> (firmware/emu/emu.mk).
HARNESS_PORT = $(if $(and $(filter native,$(ENGINE)),$(filter emu,$(PORT))),emu:native-$(or $(OPT),Os),$(PORT))
# PORT=emu:ref-O2 -> KERNELS=ref OPT=O2 (emu:native-O2 -> ENGINE=native OPT=O2) for the firmware-emu build that
# precedes the run.
EMU_PORT_WORDS = $(subst -, ,$(HARNESS_PORT:emu:%=%))
EMU_PORT_ARGS = $(if $(filter emu:%,$(HARNESS_PORT)),$(if $(filter native,$(word 1,$(EMU_PORT_WORDS))),ENGINE=native,\
                $(addprefix KERNELS=,$(word 1,$(EMU_PORT_WORDS)))) $(addprefix OPT=,$(word 2,$(EMU_PORT_WORDS))),)

harness: venv
	$(if $(filter emu emu:%,$(PORT)),@$(MAKE) --no-print-directory firmware-emu $(EMU_PORT_ARGS))
	$(PY) -m host.harness --port "$(HARNESS_PORT)" --build $(BUILD) $(if $(DATA),--data "$(DATA)",) \
		$(if $(N),-n $(N),) $(if $(RESUME),--resume,) --input $(INPUT)

predict: venv
	@test -n "$(FILE)$(RANDOM)" || { echo "usage: make predict FILE=clip.wav [BACKEND=float|int8|tflm|native|device] (or RANDOM=1)"; exit 2; }
	$(PY) -m host.predict $(if $(FILE),--file "$(FILE)",--random) --backend $(BACKEND) --port "$(PORT)" --build $(BUILD)

virtual-device: venv
	$(PY) -m host.virtual_device --build $(BUILD) --link $(BUILD)/virtual-tty

frontend-lib: venv
	$(PY) -m host.frontend --gen $(BUILD)/gen --out $(BUILD)/frontend/libfrontend.so
