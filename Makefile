# kvtier: thin wrapper over CMake. `make run` and `make test` do all set-up on a fresh Debian 12
# machine (as root: missing packages are installed by scripts/install-deps.sh).
#
#   make run        build, then the main job: a sizing report, and `kvtier demo` (replay lab)
#   make test       build, then every test under CTest
#   make bench      build, then the benchmarks (figures beside their peers)
#   make install    install library, headers, CLI, pkg-config and CMake files (PREFIX=...)
#   make asan       the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       the multi-threaded suites (CTest label "threads") under ThreadSanitizer
#   make fuzz       the libFuzzer targets for FUZZ_SECONDS each (default 60)
#
# Variables: BUILD (build directory), WERROR=ON (warnings as errors), SANITIZE=ON, TSAN=ON,
# PREFIX.

BUILD    ?= build
WERROR   ?= OFF
SANITIZE ?= OFF
TSAN     ?= OFF
BUILD_TYPE ?= RelWithDebInfo
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps configure build run test bench install asan tsan fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKVT_WERROR=$(WERROR) \
	    -DKVT_SANITIZE=$(SANITIZE) -DKVT_TSAN=$(TSAN) \
	    $(if $(PREFIX),-DCMAKE_INSTALL_PREFIX=$(PREFIX)) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@./$(BUILD)/kvtier size --model deepseek-v3 --gpu h200 --tp 8
	@echo
	@./$(BUILD)/kvtier demo --out $(BUILD)/demo

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

bench: build
	@./$(BUILD)/bench/bench_size
	@echo
	@./$(BUILD)/bench/bench_replay
	@bash bench/replay_tables.sh $(BUILD)
	@echo
	@./$(BUILD)/bench/bench_index
	@echo
	@./$(BUILD)/bench/bench_store_lookup
	@./$(BUILD)/bench/bench_store_lookup 1000000
	@echo
	@./$(BUILD)/bench/bench_store_restore
	@echo
	@./$(BUILD)/bench/bench_store_meta
	@echo
	@./$(BUILD)/bench/bench_crc32c
	@echo
	@./$(BUILD)/bench/bench_verify_read
	@echo
	@./$(BUILD)/bench/bench_verify_read --huge
	@echo
	@bash bench/tier_bench.sh $(BUILD)

install: build
	@cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan SANITIZE=ON BUILD_TYPE=Debug

tsan:
	@$(MAKE) --no-print-directory build BUILD=build-tsan TSAN=ON BUILD_TYPE=Debug
	@TSAN_OPTIONS="second_deadlock_stack=1 $${TSAN_OPTIONS:-}" \
	    ctest --test-dir build-tsan -L threads --output-on-failure -j$(JOBS)

fuzz:
	@bash scripts/fuzz.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz
