# The README's two set-up commands are `make run` and `make test`; both install what is missing first.
SHELL := /bin/bash
PRESET ?= release
JOBS ?= $(shell nproc)
BIN := build/bin/deepfake-voice-detector
PYTHON := /usr/bin/python3

.PHONY: deps deps-corpus configure build web run test test-asan bench load fuzz corpus train clean help

help:
	@echo "make run | test | build | bench | load | fuzz | corpus | train | test-asan | clean"

deps:
	tools/install-deps.sh build

deps-corpus:
	tools/install-deps.sh corpus

configure: deps
	cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)
	$(MAKE) --no-print-directory web

# The dashboard served at / (web/dist), bundled by esbuild from web/node_modules (npm ci: deps).
web:
	node web/build.mjs

# The service on its embedded defaults (SQLite under ./var, port 5000). Without TELNYX_API_KEY
# (in the environment or .env) it runs in demo mode: the built-in Telnyx simulator places one
# call per sample below, in real time, and the service answers, streams, scores and lists them.
DEMO_WAVS := samples/genuine-festvox-ru.wav samples/synthetic-espeak-ng.wav \
             samples/synthetic-hifigan.wav samples/synthetic-festival-hts.wav
run: build
	$(BIN) serve $(foreach wav,$(DEMO_WAVS),--demo-wav $(wav))

test: build
	ctest --preset $(PRESET) -j $(JOBS)

test-asan:
	$(MAKE) test PRESET=asan

bench: build
	tools/bench.sh

# Opt-in load test: LOAD_CALLS concurrent simulated calls in real time through a real service.
LOAD_CALLS ?= 100
load: build
	tools/load.sh $(LOAD_CALLS)

# Opt-in fuzzing: every libFuzzer target (tests/fuzz) for FUZZ_SECONDS each, from the committed
# corpus, with ASan + UBSan (clang). New crashes land in build/fuzz/crashes/.
FUZZ_SECONDS ?= 60
fuzz:
	tools/install-deps.sh fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz --target dvd_fuzz_targets -j $(JOBS)
	tools/run-fuzzers.sh $(FUZZ_SECONDS)

# The corpus (tools/corpus/README.md): the builder; the project's HiFi-GAN vocoder, trained by
# steps on tuxpaint's narrations (tools/vocoder/README.md); its copies of the genuine clips; the
# builder again, to chain them. Every step keeps what exists, so a rerun resumes where it stopped.
corpus: deps-corpus
	$(PYTHON) tools/corpus/build_corpus.py --train-vocoded-copies 2.5
	$(PYTHON) tools/vocoder/train_vocoder.py --max-steps 2488 --warmup-steps 1440 --minutes 600 --seed 1234 --tuxpaint-ogg
	$(PYTHON) tools/vocoder/resynth.py
	$(PYTHON) tools/corpus/build_corpus.py --train-vocoded-copies 2.5

# Features come from the C++ front end itself, so the trainer sees what the service sees. The
# shipped model is the average of two networks (training/ensemble.py), one per seed, trained side
# by side on one thread each (their lines interleave, each marked "[seed N]"; about 80 minutes on
# 2 cores), each reproducible from its seed. Each member's own export and report stay in
# data/train-seedN. The front end: the log filterbank, 6 fine bands per 2 ms sub-frame and band
# harmonicity (src/dsp/feature_options.hpp).
TRAIN_SEEDS := 1 2
FEATURES := data/features-fine6-harm
train: deps-corpus build
	$(BIN) features data/corpus/manifest.csv --fine-bands 6 --band-harmonicity --out $(FEATURES)
	$(MAKE) --no-print-directory -j 2 $(foreach seed,$(TRAIN_SEEDS),train-seed-$(seed))
	$(PYTHON) training/ensemble.py --features $(FEATURES) --out models --threads 2 $(foreach seed,$(TRAIN_SEEDS),data/train-seed$(seed)/work/best.pt)
	$(BIN) eval data/corpus/manifest.csv --split test --out build/eval/test
	$(BIN) eval data/corpus/manifest.csv --split dev --out build/eval/dev

train-seed-%:
	$(PYTHON) training/train.py --features $(FEATURES) --out data/train-seed$*/model --work data/train-seed$*/work --report data/train-seed$*/last_run.json --epochs 60 --seed $* --threads 1 --channels 12,16,24,48 --log-prefix "[seed $*]"

clean:
	rm -rf build
