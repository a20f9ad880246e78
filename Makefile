# The two commands of the README, and the pieces they are made of.
#   make run   — install what is missing, build, run the main job (parlab lab → out/soln.json,
#                parlab brewery against the embedded replica → out/async.json)
#   make test  — install what is missing, build, run every test, then the sanitizer suites
JOBS ?= $(shell nproc)
BUILD := build/release
PARLAB := $(BUILD)/apps/parlab/parlab

.PHONY: all deps build run test test-release test-asan test-tsan bench examples format clean

all: build

deps:
	bash scripts/install-deps

build: deps
	cmake --preset release
	cmake --build --preset release -j $(JOBS)

# Each half is timed; the last lines say where its file is and how long it took.
run: build
	@t0=$$(date +%s%N); \
	$(PARLAB) lab --out out || exit $$?; \
	t1=$$(date +%s%N); \
	$(PARLAB) brewery --api embedded --out out || exit $$?; \
	t2=$$(date +%s%N); \
	echo; \
	awk -v a=$$t0 -v b=$$t1 -v c=$$t2 -v dir="$(CURDIR)/out" 'BEGIN { \
	  printf "make run: the lab      (parlab lab)                      took %6.1f s -> %s/soln.json\n", (b - a) / 1e9, dir; \
	  printf "make run: the brewery  (parlab brewery --api embedded)   took %6.1f s -> %s/async.json\n", (c - b) / 1e9, dir }'

examples: build
	bash examples/run_all.sh $(BUILD)/examples

# The three suites one after another, each stage's build beside the previous stage's tests
# (scripts/test-stages; it ends with the wall time of each step). test-release, test-asan and
# test-tsan run one stage alone.
test: deps
	bash scripts/test-stages $(JOBS)

# Every test in the release build (make test's release stage runs only what the sanitizer stages cannot).
test-release: deps
	cmake --preset release -DPARLAB_TEST_SCOPE=all
	cmake --build --preset release -j $(JOBS)
	ctest --preset release -j $(JOBS)

test-asan: deps
	cmake --preset asan -DPARLAB_TEST_SCOPE=all
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# TSan runs the library's tests: pools, ProcessPool, aio, http, MpiPool (the tsan preset builds no lab).
test-tsan: deps
	cmake --preset tsan -DPARLAB_TEST_SCOPE=all
	cmake --build --preset tsan -j $(JOBS)
	bash scripts/tsan-ctest build/tsan

# parlab bench: every backend against serial C++, OpenMP, oneTBB, std::execution::par and the
# Python notebook -> out/bench.json, out/report.md, out/speedup.png, out/python-vs-cpp.png
# (about 6 minutes; BENCH_FLAGS=--quick: under 2). Then the bench_pool micro-benchmarks -> out/bench/.
# Then bench_brewery: the brewery task over 51 states, parlab vs the seed's Python and aiohttp, and
# the HTTP client vs wrk -> out/brewery-bench.json, out/brewery-bench.md (about 2 minutes;
# BREWERY_BENCH_FLAGS=--quick: under 1).
BENCH_FLAGS ?=
BREWERY_BENCH_FLAGS ?=
bench: build
	$(PARLAB) bench --out out $(BENCH_FLAGS)
	bash bench/run.sh $(BUILD) out/bench
	$(BUILD)/bench/brewery/bench_brewery --out out $(BREWERY_BENCH_FLAGS)

format:
	git ls-files '*.hpp' '*.cpp' | xargs clang-format -i

clean:
	rm -rf build out
