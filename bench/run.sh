#!/usr/bin/env bash
# Runs bench_pool (5 repetitions, medians) and prints parlab's ratios against the baselines
# and the targets: map >= 0.9x OpenMP, map >= 1.7x serial, apply_async(...).get() <= 2 us.
# It reports; it does not assert: the exit status is 0 even when a target is MISSED.
#
# usage: bench/run.sh [BUILD_DIR] [OUT_DIR] [--benchmark_* flags passed to bench_pool...]
#   BUILD_DIR  CMake build directory holding bench/bench_pool  (default: <repo>/build/release)
#   OUT_DIR    where bench_pool.json and ratios.txt are written (default: <repo>/out/bench)
# e.g. bench/run.sh build/release out/bench --benchmark_filter='map/'
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
positional=()
passthrough=()
for arg in "$@"; do
  case $arg in
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --*) passthrough+=("$arg") ;;
    *) positional+=("$arg") ;;
  esac
done
if (( ${#positional[@]} > 2 )); then
  echo "run.sh: too many arguments (want BUILD_DIR and OUT_DIR); see --help" >&2
  exit 2
fi
build_dir=${positional[0]:-$repo/build/release}
out_dir=${positional[1]:-$repo/out/bench}

bin=$build_dir/bench/bench_pool
if [[ ! -x $bin ]]; then
  echo "run.sh: $bin not found; build it first:" >&2
  echo "  cmake --preset release && cmake --build --preset release --target bench_pool" >&2
  exit 2
fi
python=/usr/bin/python3
[[ -x $python ]] || python=python3

mkdir -p "$out_dir"
json=$out_dir/bench_pool.json
ratios=$out_dir/ratios.txt
tmp_json=$(mktemp "$out_dir/.bench_pool.json.XXXXXX")
tmp_ratios=$(mktemp "$out_dir/.ratios.txt.XXXXXX")
trap 'rm -f "$tmp_json" "$tmp_ratios"' EXIT
mode=$(printf '%o' $(( 0666 & ~0$(umask) )))  # mktemp makes 0600 files; publish with the usual mode

echo "running $bin (5 repetitions of every row; 1-2 minutes)..." >&2
"$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
       --benchmark_format=json --benchmark_out="$tmp_json" "${passthrough[@]}" >/dev/null
chmod "$mode" "$tmp_json"
mv -f "$tmp_json" "$json"

"$python" - "$json" >"$tmp_ratios" <<'PY'
import json
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)

TO_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
rows = {}  # row name -> {aggregate name -> benchmark entry}
for b in report.get("benchmarks", []):
    if b.get("run_type") != "aggregate" or b.get("error_occurred"):
        continue
    name = b["run_name"]
    if name.endswith("/real_time"):
        name = name[: -len("/real_time")]
    rows.setdefault(name, {})[b["aggregate_name"]] = b

def median(name, field):
    entry = rows.get(name, {}).get("median")
    if entry is None or field not in entry:
        return None
    if field == "real_time":
        return entry["real_time"] * TO_SECONDS[entry.get("time_unit", "ns")]
    return float(entry[field])

def cv(name):
    entry = rows.get(name, {}).get("cv")
    return None if entry is None else entry["real_time"]  # a fraction, not in time units

ctx = report.get("context", {})
print(f"bench_pool on {ctx.get('host_name', '?')}: {ctx.get('num_cpus', '?')} CPUs, "
      f"pool workers {ctx.get('parlab_pool_workers', '?')}, OpenMP threads {ctx.get('openmp_threads', 'n/a')}, "
      f"load average {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', [])) or '?'}")
print()
print(f"{'row (median of repetitions)':<28}{'time':>14}{'throughput':>18}{'cv':>8}")
for name in rows:
    t = median(name, "real_time")
    ips = median(name, "items_per_second")
    c = cv(name)
    t_s = "n/a" if t is None else (f"{t * 1e6:.2f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms")
    ips_s = "" if ips is None else f"{ips / 1e6:.2f} M items/s"
    c_s = "" if c is None else f"{c * 100:.1f}%"
    print(f"{name:<28}{t_s:>14}{ips_s:>18}{c_s:>8}")
print()

missed = 0
unmeasured = 0
def line(label, value, unit, target=None, ok=None):
    global missed, unmeasured
    value_s = "n/a" if value is None else f"{value:.2f}{unit}"
    if target is None:
        status = ""
    elif value is None:
        status = "not measured"
        unmeasured += 1
    elif ok(value):
        status = "ok"
    else:
        status = "MISSED"
        missed += 1
    print(f"{label:<40}{value_s:>12}  {target or '(info)':<10}{status}")

def ratio(a, b):
    x, y = median(a, "items_per_second"), median(b, "items_per_second")
    return None if x is None or y is None or y == 0 else x / y

apply_async = median("apply_async_get", "real_time")
apply = median("apply", "real_time")
print(f"{'ratio / latency':<40}{'measured':>12}  {'target':<10}status")
line("parlab map / OpenMP", ratio("map/parlab", "map/openmp"), "x", ">= 0.90x", lambda v: v >= 0.9)
line("parlab map / TBB", ratio("map/parlab", "map/tbb"), "x")
line("parlab map / serial", ratio("map/parlab", "map/serial"), "x", ">= 1.70x", lambda v: v >= 1.7)
line("parlab map / std::execution::par", ratio("map/parlab", "map/std_par"), "x")
line("parlab void map, preallocated / OpenMP", ratio("map/parlab_void", "map/openmp"), "x")
line("parlab map / OpenMP, both allocating", ratio("map/parlab", "map/openmp_alloc"), "x")
line("parlab map / serial, both allocating", ratio("map/parlab", "map/serial_alloc"), "x")
line("apply_async(f, x).get()", None if apply_async is None else apply_async * 1e6, " us",
     "<= 2 us", lambda v: v <= 2.0)
line("apply(f, x)", None if apply is None else apply * 1e6, " us")
process_apply = median("process/apply_async_get", "real_time")
line("ProcessPool apply_async(f, x).get()", None if process_apply is None else process_apply * 1e6, " us")
for name, label in (("imap/default", "imap, default options"), ("imap/chunksize64", "imap, chunksize 64")):
    ips = median(name, "items_per_second")
    line(label + " (M items/s)", None if ips is None else ips / 1e6, "")
print()
noisy = [n for n in rows if (cv(n) or 0) > 0.10]
if noisy:
    print("note: repetitions differ by more than 10% (cv) in " + ", ".join(noisy)
          + "; if the machine was busy, rerun it idle")
summary = "all met" if missed == 0 else f"{missed} MISSED"
if unmeasured:
    summary += f", {unmeasured} not measured"
print(f"targets: {summary}")
PY
chmod "$mode" "$tmp_ratios"
mv -f "$tmp_ratios" "$ratios"
cat "$ratios"
echo "(json: $json, table: $ratios)" >&2
exit 0
