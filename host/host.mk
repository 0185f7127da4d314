# Host harness targets (included by the top Makefile, which defines PY, BUILD and venv).
# make harness [PORT=/dev/ttyACM0|socket://host:port|virtual] [DATA=<folder>] [N=<clips>] [RESUME=1]
# make predict (FILE=clip.wav | RANDOM=1) [BACKEND=float|int8|tflm|device] [PORT=…]
# make virtual-device   a virtual board on a pty at $(BUILD)/virtual-tty, for serial monitors and PORT=
PORT ?=
N ?=
RESUME ?=
FILE ?=
RANDOM ?=
BACKEND ?= tflm

.PHONY: harness predict virtual-device

harness: venv
	$(PY) -m host.harness --port "$(PORT)" --build $(BUILD) $(if $(DATA),--data "$(DATA)",) \
		$(if $(N),-n $(N),) $(if $(RESUME),--resume,)

predict: venv
	@test -n "$(FILE)$(RANDOM)" || { echo "usage: make predict FILE=clip.wav [BACKEND=float|int8|tflm|device] (or RANDOM=1)"; exit 2; }
	$(PY) -m host.predict $(if $(FILE),--file "$(FILE)",--random) --backend $(BACKEND) --port "$(PORT)" --build $(BUILD)

virtual-device: venv
	$(PY) -m host.virtual_device --build $(BUILD) --link $(BUILD)/virtual-tty
