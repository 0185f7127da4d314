# Pinned third-party source trees (firmware/third_party/pins.json, the only file that names their revisions), unpacked
# into build/third_party/ and verified by checksum: from THIRD_PARTY_DIR (../shared/third_party, offline) when the
# archive is there, otherwise generated from the pinned upstream revision (network). Nothing of them is ever
# committed. Point TFLM_CM4 / TFLM_HOST / ARDUINO_MBED at another tree to use it instead (no checksum is checked then,
# and its objects are not cached). Rules depend on the *_STAMP files.
THIRD_PARTY_DIR ?= ../shared/third_party
TP_BUILD := $(BUILD)/third_party
TP_TOOL := $(PYTHON_SYS) firmware/tools/third_party.py
# TFLM_CM4_DIR, TFLM_CM4_TREE (content checksum), TFLM_CM4_REV, ... of every pin.
$(foreach assignment,$(shell $(TP_TOOL) vars),$(eval $(assignment)))
ifeq ($(TFLM_CM4_DIR),)
$(error firmware/third_party/pins.json: cannot be read with $(PYTHON_SYS) firmware/tools/third_party.py vars)
endif
TFLM_CM4 ?= $(TP_BUILD)/$(TFLM_CM4_DIR)
TFLM_HOST ?= $(TP_BUILD)/$(TFLM_HOST_DIR)
ARDUINO_MBED ?= $(TP_BUILD)/$(ARDUINO_MBED_DIR)

# One rule per pin: $(TP_BUILD)/<dir>/.verified.
define TP_UNPACK
$$(TP_BUILD)/$$($(1)_DIR)/.verified: firmware/third_party/pins.json
	$$(TP_TOOL) $(2) --dest $$(TP_BUILD) --shared $$(THIRD_PARTY_DIR)
endef
$(eval $(call TP_UNPACK,TFLM_CM4,tflm-cm4))
$(eval $(call TP_UNPACK,TFLM_HOST,tflm-host))
$(eval $(call TP_UNPACK,ARDUINO_MBED,arduino-mbed))

stamp_of = $(if $(filter $(TP_BUILD)/%,$(1)),$(1)/.verified,)
TFLM_CM4_STAMP := $(call stamp_of,$(TFLM_CM4))
TFLM_HOST_STAMP := $(call stamp_of,$(TFLM_HOST))
ARDUINO_MBED_STAMP := $(call stamp_of,$(ARDUINO_MBED))

# ---- the cache of compiled third-party objects, outside the clone -----------------------------------------------
# TFLM for the emulator and the host simulator (emu.mk), the board's Arduino core and TFLM library (board_check.py):
# a second build on the same machine, in any clone, skips them; a fresh machine builds them. Each folder is keyed on
# what decides its objects: the pinned tree's checksum, the compiler's version and the compile flags.
# TP_CACHE= (empty) keeps them in build/ instead.
TP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tinyml-bilstm
# Compiles at once of the board checks' Python-driven recipe (make's own rules take make -j).
TP_JOBS ?= 2
# $(call tp_key,<text>): 16 hex digits of the text's sha256.
tp_key = $(shell printf '%s' '$(subst ','"'"',$(1))' | sha256sum | cut -c1-16)
# $(call tree_id,<tree>,<pin>): the pinned checksum of a tree under build/third_party, the path of any other tree.
tree_id = $(if $(filter $(TP_BUILD)/%,$(1)),$($(2)_TREE),$(abspath $(1)))

.PHONY: third-party
third-party: $(TFLM_CM4_STAMP) $(TFLM_HOST_STAMP) $(ARDUINO_MBED_STAMP)  ## unpack the pinned TFLM and Arduino core trees into build/third_party

# Every cached object that the toolchain tests link, make -j compiles at a time (the board's: TP_JOBS): `make test`
# runs it first (TEST_JOBS of each) when the cross compiler and the pinned archives are here, so that a fresh machine
# does not compile them one test at a time on one test process; with the cache warm it checks them in seconds.
# The Sense's TFLM image holds every board object (core, variant, PDM, TFLM); the emulator's library is the one of
# the default configuration.
.PHONY: third-party-objects third-party-objects-board
third-party-objects: $(TFLM_CM4_STAMP) $(TFLM_HOST_STAMP) third-party-objects-board  ## compile the pinned third-party objects the tests link into TP_CACHE (make -j, TP_JOBS)
	@$(MAKE) --no-print-directory $(EMU_TFLM_LIB) $(SIM_TFLM_LIB)

third-party-objects-board: $(TFLM_CM4_STAMP) $(ARDUINO_MBED_STAMP)  ## the board checks' part of it: the core, its variant and PDM, the TFLM library (TP_JOBS)
	@$(MAKE) --no-print-directory $(TFLM_LIB_STAMP)
	@$(BOARD_CHECK) objects --core $(ARDUINO_MBED) --lib $(TFLM_LIB) --build $(FW_BOARD)/build \
	    $(if $(TP_CACHE),--cache $(TP_CACHE)) --target nano33ble_sense --jobs $(TP_JOBS)
