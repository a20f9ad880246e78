#!/usr/bin/python3
"""One lab workload at a chosen size, timed in Python: the Python rows of `parlab bench`.

notebook.py runs the whole notebook once; `parlab bench` needs each workload on its own, with
a warm-up and repetitions, and a fingerprint of the results so that it can check them against
its serial C++ result. This script does that with the notebook's own worker functions (imported
from notebook.py), the notebook's seeds and the notebook's way of timing: the Pool is started
before the clock, and the clock covers the call.

  example    howmany_within_range_rowonly over ROWS x 5 ints in [0, 10), seed 100
             (np.random.seed(100); np.random.randint(0, 10, size=[ROWS, 5]).tolist())
  prob3_xxl  normalize over ROWS x COLS ints in [0, 1000): np.random.seed(42), the Small,
             Medium, Large and XL draws of Problem 3 (discarded), then ROWS x COLS
  busy       do_busy_work over DURATIONS (--busy sleep or spin)
  trivial    a 32-bit integer hash (lowbias32) over 0 .. ITEMS-1: the cost of handing out an
             item, with almost no work in it
  apply      round-trip latency: pool.apply_async(add_one, (x,)).get() with add_one(x) = x + 1,
             --warmup-calls untimed, then --calls timed one by one (no serial side, no data)

For each, the serial loop ([f(x) for x in data]) and Pool(WORKERS).map(f, data), each with
--warmup untimed runs and then --repeat timed runs. stdout carries one JSON object:

  {"python": "3.11.2", "numpy": "1.24.2", "cpu_count": 2, "workers": 2, "start_method": "fork",
   "workload": "example", "data_s": 0.51, "pool_startup_s": 0.01,
   "serial": {"warmup_s": [0.31], "samples_s": [0.30, ...], "n": 1000000, "elements": 1000000,
              "digest": "0x..."},
   "pool":   {...the same...}}

`digest` fingerprints the results (see digest() below; parlab bench computes the same over its
serial C++ results); busy adds "values", the elapsed seconds do_busy_work returned. The pool's
workers print (do_busy_work does); that output is discarded. apply writes instead

  {..., "workload": "apply", "pool_startup_s": 0.01,
   "apply": {"warmup_calls": 200, "samples_s": [0.00012, ...], "final": 2200}}

where "final" is x after every call (warm-up included) from x = 0, so it must equal the number
of calls.

  /usr/bin/python3 bench/python/workloads.py --workload example --repeat 3
  /usr/bin/python3 bench/python/workloads.py --workload busy --busy spin --durations 0.1,0.2
  /usr/bin/python3 bench/python/workloads.py --workload apply --calls 2000 --warmup-calls 200

Exit status: 0 done, 2 bad arguments, 3 numpy missing, 1 any other failure.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import notebook  # noqa: E402  (exits 3 with a clear message when numpy is missing)
from notebook import howmany_within_range_rowonly, normalize, np  # noqa: E402

# Problem 3's sizes before XXL, drawn (and discarded) so that XXL gets the notebook's numbers.
PROB3_BEFORE_XXL = [(100, 50), (1000, 50), (10000, 50), (50000, 100)]

MASK32 = 0xFFFFFFFF


def trivial(x):
    """lowbias32: a few integer operations, the same as parlab bench's trivial task."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    x ^= x >> 16
    return x


def add_one(x):
    """The task of the latency rows: as trivial as a call gets (parlab bench's add_one)."""
    return x + 1


def digest(flat):
    """sum(v[i] * (i * K1 + K2 | 1)) mod 2**64 over a flat uint64 array: position-sensitive, so
    a missing, changed or misplaced result changes it. Doubles enter as their IEEE-754 bits."""
    idx = np.arange(flat.size, dtype=np.uint64)
    weights = idx * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019)
    weights |= np.uint64(1)
    return f"0x{int(np.sum(flat * weights, dtype=np.uint64)):016x}"


def fingerprint(workload, result):
    if workload == "prob3_xxl":
        flat = np.array(result, dtype=np.float64).ravel().view(np.uint64)
    elif workload == "busy":
        return {"n": len(result), "elements": len(result), "values": list(result)}
    else:
        flat = np.array(result, dtype=np.uint64).ravel()
    return {"n": len(result), "elements": int(flat.size), "digest": digest(flat)}


def make_data(args):
    if args.workload == "example":
        np.random.seed(100)
        return howmany_within_range_rowonly, np.random.randint(0, 10, size=[args.rows, 5]).tolist()
    if args.workload == "prob3_xxl":
        np.random.seed(42)
        for rows, cols in PROB3_BEFORE_XXL:
            np.random.randint(0, 1000, size=(rows, cols))
        return normalize, np.random.randint(0, 1000, size=(args.rows, args.cols)).tolist()
    if args.workload == "busy":
        notebook.BUSY_MODE = args.busy  # before the pool forks, so its workers see it too
        return notebook.do_busy_work, list(args.durations)
    return trivial, list(range(args.items))


def measure(call, warmup, repeat):
    """(warm-up times, timed samples, last result)"""
    warm, samples, result = [], [], None
    for i in range(warmup + repeat):
        result = None  # free the previous result before the clock starts, as parlab bench does
        start = time.perf_counter()
        result = call()
        (warm if i < warmup else samples).append(time.perf_counter() - start)
    return warm, samples, result


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {text})")
    return value


def durations(text):
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from None
    if not values or any(not (0.0 <= v <= 3600.0) for v in values):
        raise argparse.ArgumentTypeError(f"seconds must be between 0 and 3600: {text!r}")
    return values


def parse_args(argv):
    p = argparse.ArgumentParser(description="One lab workload, serial and Pool.map, timed; JSON on stdout.")
    p.add_argument("--workload", required=True, choices=["example", "prob3_xxl", "busy", "trivial", "apply"])
    p.add_argument("--rows", type=positive_int, default=None,
                   help="rows (example: 1,000,000; prob3_xxl: 100,000)")
    p.add_argument("--cols", type=positive_int, default=100, help="prob3_xxl columns (default 100)")
    p.add_argument("--items", type=positive_int, default=10_000_000, help="trivial items (default 10,000,000)")
    p.add_argument("--busy", choices=["sleep", "spin"], default="sleep", help="busy: sleep or spin")
    p.add_argument("--durations", type=durations, default=[1.0, 2.0, 4.0, 6.0],
                   help="busy: seconds per task, comma-separated (default the lab's 1,2,4,6)")
    p.add_argument("--workers", type=positive_int, default=None, help="pool size (default mp.cpu_count())")
    p.add_argument("--repeat", type=positive_int, default=5, help="timed runs of each (default 5)")
    p.add_argument("--warmup", type=int, choices=[0, 1, 2], default=1, help="untimed runs first (default 1)")
    p.add_argument("--calls", type=positive_int, default=2000, help="apply: timed calls (default 2000)")
    p.add_argument("--warmup-calls", type=int, default=200, help="apply: untimed calls first (default 200)")
    args = p.parse_args(argv)
    if args.rows is None:
        args.rows = 1_000_000 if args.workload == "example" else 100_000
    if args.workers is None:
        args.workers = mp.cpu_count()
    if args.workers > 1024:
        p.error(f"--workers must be at most 1024 (got {args.workers})")
    if args.warmup_calls < 0:
        p.error(f"--warmup-calls must be at least 0 (got {args.warmup_calls})")
    return args


def apply_latency(args, record):
    """Times pool.apply_async(add_one, (x,)).get() call by call, the pool started before."""
    start = time.perf_counter()
    pool = mp.Pool(args.workers)
    record["pool_startup_s"] = time.perf_counter() - start
    x = 0
    samples = []
    with pool:
        for _ in range(args.warmup_calls):
            x = pool.apply_async(add_one, (x,)).get()
        for _ in range(args.calls):
            start = time.perf_counter()
            x = pool.apply_async(add_one, (x,)).get()
            samples.append(time.perf_counter() - start)
    record["apply"] = {"warmup_calls": args.warmup_calls, "samples_s": samples, "final": x}


def main(argv):
    args = parse_args(argv)
    # do_busy_work prints from this process and from the pool's workers (which inherit fd 1):
    # keep the real stdout for the JSON and send fd 1 to /dev/null.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)

    record = {"python": platform.python_version(), "numpy": np.__version__, "cpu_count": mp.cpu_count(),
              "workers": args.workers, "start_method": mp.get_start_method(), "workload": args.workload}
    if args.workload == "apply":
        apply_latency(args, record)
        json_out.write(json.dumps(record) + "\n")
        json_out.flush()
        return 0

    start = time.perf_counter()
    f, data = make_data(args)
    record["data_s"] = time.perf_counter() - start

    warm, samples, result = measure(lambda: [f(x) for x in data], args.warmup, args.repeat)
    record["serial"] = {"warmup_s": warm, "samples_s": samples, **fingerprint(args.workload, result)}
    result = None

    start = time.perf_counter()
    pool = mp.Pool(args.workers)
    record["pool_startup_s"] = time.perf_counter() - start
    with pool:
        warm, samples, result = measure(lambda: pool.map(f, data), args.warmup, args.repeat)
    record["pool"] = {"warmup_s": warm, "samples_s": samples, **fingerprint(args.workload, result)}

    json_out.write(json.dumps(record) + "\n")
    json_out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # one clear line
        sys.stderr.write(f"workloads.py: error: {type(e).__name__}: {e}\n")
        sys.exit(1)
