# Pinned third-party source trees (firmware/third_party/pins.json), unpacked into build/third_party/ and verified
# by checksum: from THIRD_PARTY_DIR (../shared/third_party, offline) when the archive is there, otherwise generated
# from the pinned upstream revision (network). Nothing of them is ever committed. Point TFLM_CM4 / TFLM_HOST /
# ARDUINO_MBED at another tree to use it instead (no checksum is checked then). Rules depend on the *_STAMP files.
THIRD_PARTY_DIR ?= ../shared/third_party
TP_BUILD := $(BUILD)/third_party
TP_TOOL := $(PYTHON_SYS) firmware/tools/third_party.py
TFLM_CM4 ?= $(TP_BUILD)/tflm-90b983c2-cortex-m4f-cmsis-nn
TFLM_HOST ?= $(TP_BUILD)/tflm-90b983c2-host-reference
ARDUINO_MBED ?= $(TP_BUILD)/ArduinoCore-mbed-4.5.0

$(TP_BUILD)/tflm-90b983c2-cortex-m4f-cmsis-nn/.verified: firmware/third_party/pins.json
	$(TP_TOOL) tflm-cm4 --dest $(TP_BUILD) --shared $(THIRD_PARTY_DIR)
$(TP_BUILD)/tflm-90b983c2-host-reference/.verified: firmware/third_party/pins.json
	$(TP_TOOL) tflm-host --dest $(TP_BUILD) --shared $(THIRD_PARTY_DIR)
$(TP_BUILD)/ArduinoCore-mbed-4.5.0/.verified: firmware/third_party/pins.json
	$(TP_TOOL) arduino-mbed --dest $(TP_BUILD) --shared $(THIRD_PARTY_DIR)

stamp_of = $(if $(filter $(TP_BUILD)/%,$(1)),$(1)/.verified,)
TFLM_CM4_STAMP := $(call stamp_of,$(TFLM_CM4))
TFLM_HOST_STAMP := $(call stamp_of,$(TFLM_HOST))
ARDUINO_MBED_STAMP := $(call stamp_of,$(ARDUINO_MBED))

.PHONY: third-party
third-party: $(TFLM_CM4_STAMP) $(TFLM_HOST_STAMP) $(ARDUINO_MBED_STAMP)
