# Demo page targets (included by the top Makefile after host/host.mk, which defines PORT and EMU_PORT_ARGS).
# make demo [DEMO_PORT=7860] [PORT=/dev/ttyACM0|socket://…|virtual|emu|emu:<kernels>-<opt>]
#   DEMO_PORT is the page's HTTP port on 127.0.0.1; PORT, as for the harness, adds the device backend.
DEMO_PORT ?= 7860

.PHONY: demo

demo: venv
	$(if $(filter emu emu:%,$(PORT)),@$(MAKE) --no-print-directory firmware-emu $(EMU_PORT_ARGS))
	@$(PY) -m demo --build $(BUILD) --http-port $(DEMO_PORT) $(if $(PORT),--port "$(PORT)",)
