# Demo page targets (included by the top Makefile after host/host.mk, which defines PORT, EMU_PORT and EMU_BUILD).
# make demo [DEMO_PORT=7860] [PORT=/dev/ttyACM0|socket://…|virtual|emu|emu:<kernels>-<opt>]
#   DEMO_PORT is the page's HTTP port on 127.0.0.1; PORT, as for the harness, adds the device backend.
DEMO_PORT ?= 7860

.PHONY: demo

demo: venv  ## the demo page on 127.0.0.1 (DEMO_PORT=; PORT= adds the device backend)
	$(EMU_BUILD)
	@$(PY) -m demo --build $(BUILD) --http-port $(DEMO_PORT) $(if $(EMU_PORT),--port "$(EMU_PORT)",)
