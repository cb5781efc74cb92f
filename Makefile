# Set-up and the main jobs in one command each: `make run`, `make test`.
BUILD   ?= build
PRESET  ?= default
CONFIG  ?=
ARGS    ?=
JOBS    ?= $(shell nproc)

.PHONY: all deps configure build run test clean asan

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake --preset $(PRESET)

configure: deps
	cmake --preset $(PRESET)

build: deps $(BUILD)/build.ninja
	cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	$(BUILD)/bin/sluice-gateway $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

test: build
	ctest --preset $(PRESET)

asan:
	$(MAKE) test PRESET=asan BUILD=build-asan

clean:
	rm -rf $(BUILD)
