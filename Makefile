# The README's two set-up commands are `make run` and `make test`; both install what is missing first.
SHELL := /bin/bash
PRESET ?= release
JOBS ?= $(shell nproc)
BIN := build/bin/deepfake-voice-detector
PYTHON := /usr/bin/python3

.PHONY: deps deps-corpus configure build run test test-asan bench corpus train features clean help

help:
	@echo "make run | test | build | bench | corpus | train | test-asan | clean"

deps:
	tools/install-deps.sh build

deps-corpus:
	tools/install-deps.sh corpus

configure: deps
	cmake --preset $(PRESET) >/dev/null

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	$(BIN) serve

test: build
	ctest --preset $(PRESET) -j $(JOBS)

test-asan:
	$(MAKE) test PRESET=asan

bench: build
	tools/bench.sh

corpus: deps-corpus
	$(PYTHON) tools/corpus/build_corpus.py

train: deps-corpus build
	$(PYTHON) training/train.py

clean:
	rm -rf build
