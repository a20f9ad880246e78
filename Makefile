# The two commands of the README, and the pieces they are made of.
#   make run   — install what is missing, build, run the main job (parlab lab → out/soln.json)
#   make test  — install what is missing, build, run every test, then the sanitizer suites
JOBS ?= $(shell nproc)
BUILD := build/release

.PHONY: all deps build run test test-release test-asan test-tsan bench examples format clean

all: build

deps:
	bash scripts/install-deps

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

run: build
	$(BUILD)/apps/parlab/parlab lab --out out
	@echo "make run: soln.json is in $(CURDIR)/out/soln.json"

examples: build
	bash examples/run_all.sh $(BUILD)/examples

test: test-release test-asan test-tsan
	@echo "make test: release, ASan+UBSan and TSan suites all passed"

test-release: build
	ctest --preset release -j $(JOBS)

test-asan: deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# TSan runs the library tests: thread pool, results, stress (the tsan preset builds no lab).
test-tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS)
	bash scripts/tsan-ctest build/tsan

# parlab bench: every backend against serial C++, OpenMP, oneTBB, std::execution::par and the
# Python notebook -> out/bench.json, out/report.md, out/speedup.png, out/python-vs-cpp.png
# (about 6 minutes; BENCH_FLAGS=--quick: under 2). Then the bench_pool micro-benchmarks -> out/bench/.
BENCH_FLAGS ?=
bench: build
	$(BUILD)/apps/parlab/parlab bench --out out $(BENCH_FLAGS)
	bash bench/run.sh $(BUILD) out/bench

format:
	git ls-files '*.hpp' '*.cpp' | xargs clang-format -i

clean:
	rm -rf build out
