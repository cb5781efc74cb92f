# Set-up and the main jobs in one command each: `make run`, `make test`.
BUILD   ?= build
PRESET  ?= default
CONFIG  ?=
ARGS    ?=
JOBS    ?= $(shell nproc)

.PHONY: all deps node-deps configure build run test clean asan bench

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

# The official SDKs the client tests drive, pinned by tests/clients/package-lock.json.
node-deps:
	@cd tests/clients && { [ -d node_modules/openai ] && [ node_modules/.package-lock.json -nt package-lock.json ]; } \
	  || npm ci --no-audit --no-fund

test: build node-deps
	ctest --preset $(PRESET)

asan:
	$(MAKE) test PRESET=asan BUILD=build-asan

# The gateway benchmark, side by side with nginx and Portkey (bench/README.md); not part of test.
# BENCH_ARGS=--quick for a one-minute smoke run.
bench:
	BUILD=$(BUILD) bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
