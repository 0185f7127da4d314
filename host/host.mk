# Host harness targets (included by the top Makefile, which defines PY, BUILD and venv).
# make harness [PORT=/dev/ttyACM0|socket://host:port|virtual|emu|emu:<config>] [ENGINE=native|tflm] [DATA=<folder>]
#              [N=<clips>] [RESUME=1] [INPUT=features|audio]   (INPUT=audio: 16-bit audio, the device computes the
#              features; PORT=emu builds the emulated firmware of ENGINE first: make firmware-emu, firmware/emu/emu.mk)
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

# PORT=emu[:<config>]: host/emulator.py, the one parser of the port syntax, says which emulated image the port names
# (plain emu: ENGINE, KERNELS, OPT; an ENGINE given on the command line that contradicts emu:<config> stops) and the
# make arguments that build it: EMU_PORT is the resolved port, EMU_BUILD builds its image first (a recipe line of
# harness, predict and demo). Asked only for the goals that use it, as it needs the venv.
EMU_PORT := $(PORT)
EMU_BUILD :=
ifneq ($(and $(filter emu emu:%,$(PORT)),$(filter harness predict demo,$(MAKECMDGOALS))),)
ifeq ($(wildcard $(PY)),)
$(error PORT=$(PORT) needs $(VENV): run 'make venv' first)
endif
EMU_RESOLVED := $(shell $(PY) -m host.emulator --resolve "$(PORT)" --engine $(ENGINE) --kernels $(KERNELS) --opt $(OPT) \
    $(if $(filter command line environment,$(origin ENGINE)),--engine-given) 2>&1)
ifneq ($(filter error:,$(firstword $(EMU_RESOLVED))),)
$(error $(patsubst error:%,%,$(EMU_RESOLVED)))
endif
EMU_PORT := $(firstword $(EMU_RESOLVED))
EMU_BUILD := @$(MAKE) --no-print-directory firmware-emu $(wordlist 2,$(words $(EMU_RESOLVED)),$(EMU_RESOLVED))
endif

harness: venv  ## stream the test split to a device and compare its scores with the host's (PORT=, N=, DATA=, RESUME=1, INPUT=audio)
	$(EMU_BUILD)
	$(PY) -m host.harness --port "$(EMU_PORT)" --build $(BUILD) $(if $(DATA),--data "$(DATA)",) \
		$(if $(N),-n $(N),) $(if $(RESUME),--resume,) --input $(INPUT)

predict: venv  ## one clip through a backend: FILE=<wav> or RANDOM=1, BACKEND=float|int8|tflm|native|device [PORT=]
	@test -n "$(FILE)$(RANDOM)" || { echo "usage: make predict FILE=clip.wav [BACKEND=float|int8|tflm|native|device] (or RANDOM=1)"; exit 2; }
	$(if $(filter device,$(BACKEND)),$(EMU_BUILD))
	$(PY) -m host.predict $(if $(FILE),--file "$(FILE)",--random) --backend $(BACKEND) --port "$(EMU_PORT)" --build $(BUILD)

virtual-device: venv  ## a virtual board on a pseudo-terminal at build/virtual-tty
	$(PY) -m host.virtual_device --build $(BUILD) --link $(BUILD)/virtual-tty

frontend-lib: venv  ## the firmware's audio front end as a host library (build/frontend/libfrontend.so)
	$(PY) -m host.frontend --gen $(BUILD)/gen --out $(BUILD)/frontend/libfrontend.so
