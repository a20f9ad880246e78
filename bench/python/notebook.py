#!/usr/bin/python3
"""The lab notebook "parallelization-with-python.ipynb" as a script: Python's side of the
comparison with `parlab lab`.

It runs the notebook's steps (the lab's SEED.md, part 2) with multiprocessing.Pool, in
the notebook's order and with its seeds and sizes:

  Setup      mp.cpu_count()
  Example    howmany_within_range over 1,000,000 rows x 5 (seed 100): serial loop, Pool.map,
             Pool.starmap, Pool.starmap_async re-sorted by index
  Problem 1  common items per row with Pool.starmap
  Problem 2  do_busy_work over [1, 2, 4, 6]: serial map, Pool(cpu_count).map,
             Pool(len(work)).map  (about 27 s with --busy sleep; --skip-prob2 skips it)
  Problem 3  min-max normalisation, np.random.seed(42), five sizes, serial vs Pool.map

and writes the lab's soln.json (json.dumps(answers, indent=2)) into --out. Its prob1 and prob3
are what `parlab lab` writes, byte for byte.

As in `parlab lab`, each Pool is started before the clock starts (its start-up is printed
separately), and the clock covers building the argument list and the call, so the two
programs time the same thing.

Run it with Debian's Python, which has numpy (python3-numpy):

  /usr/bin/python3 bench/python/notebook.py --out /tmp/lab-py
  /usr/bin/python3 bench/python/notebook.py --out /tmp/lab-py --json > py.json
  /usr/bin/python3 bench/python/notebook.py --busy spin --skip-prob2 --workers 4

With --json the narration goes to stderr and stdout carries one JSON object of timings, with
the key names of `parlab lab --json`. Exit status: 0 done, 2 bad arguments, 3 numpy missing,
1 any other failure.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import socket
import sys
import tempfile
import time

try:
    import numpy as np
except ImportError:
    _me = os.path.basename(sys.argv[0]) or "notebook.py"
    sys.stderr.write(
        f"{_me}: error: numpy is not installed for {sys.executable} (Python {platform.python_version()}).\n"
        f"  Run it with Debian's Python, which has python3-numpy:\n"
        f"    /usr/bin/python3 bench/python/{_me} ...\n"
        f"  (install it with: apt-get install python3-numpy)\n")
    sys.exit(3)


# ---------------------------------------------------------------------------------------------
# The notebook's worker functions (module level, so that the pool's processes can find them).

def howmany_within_range(row, minimum, maximum):
    """Returns how many numbers lie within `maximum` and `minimum` in a given `row`."""
    count = 0
    for n in row:
        if minimum <= n <= maximum:
            count = count + 1
    return count


def howmany_within_range_rowonly(row, minimum=4, maximum=8):
    count = 0
    for n in row:
        if minimum <= n <= maximum:
            count = count + 1
    return count


def howmany_within_range2(i, row, minimum, maximum):
    """Like howmany_within_range, returning (index, count) so results can be re-sorted."""
    count = 0
    for n in row:
        if minimum <= n <= maximum:
            count = count + 1
    return (i, count)


def common_items(row_a, row_b):
    """Problem 1: the items of row_a that are also in row_b, in row_a's order."""
    return [x for x in row_a if x in row_b]


# Problem 2's busy mode; the pools are forked after main() sets it.
BUSY_MODE = "sleep"


def say(line):
    """Prints a line with one write, so that lines from several workers do not interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def do_busy_work(time_in_seconds):
    """script.py's do_busy_work: prints the process id, sleeps (or, with --busy spin, burns that
    much CPU time: fixed work, as parlab's BusyMode::spin) for `time_in_seconds`, prints the
    elapsed time and returns it (monotonic clock)."""
    say(f"Process {os.getpid()}: busy for {time_in_seconds} s ({BUSY_MODE})")
    start = time.perf_counter()
    if BUSY_MODE == "spin":
        until = time.thread_time() + time_in_seconds
        while time.thread_time() < until:
            pass
    else:
        time.sleep(time_in_seconds)
    elapsed = time.perf_counter() - start
    say(f"Process {os.getpid()}: done in {elapsed:.3f} s")
    return elapsed


def normalize(row):
    """Problem 3: min-max normalisation; a row whose values are all equal gives all 0.0."""
    minimum = min(row)
    maximum = max(row)
    if maximum == minimum:
        return [0.0] * len(row)
    return [(x - minimum) / (maximum - minimum) for x in row]


# ---------------------------------------------------------------------------------------------
# The steps.

def timed(f):
    """(seconds, f())"""
    start = time.perf_counter()
    result = f()
    return time.perf_counter() - start, result


def started_pool(processes):
    """(seconds to start it, a Pool of `processes` worker processes)"""
    return timed(lambda: mp.Pool(processes))


def run_example(pool):
    print("== Example: howmany_within_range(row, 4, 8) over 1,000,000 rows x 5, seed 100 ==")
    # The notebook calls np.random.RandomState(100), which leaves the global generator alone;
    # seeding it, as parlab does, makes the data the same on every run and in both programs.
    np.random.seed(100)
    t_data, data = timed(lambda: np.random.randint(0, 10, size=[1000000, 5]).tolist())
    print(f"  data: {len(data):,} rows generated in {t_data:.3f} s")

    def serial_loop():
        results = []
        for row in data:
            results.append(howmany_within_range(row, minimum=4, maximum=8))
        return results

    def async_sorted():
        results = pool.starmap_async(howmany_within_range2,
                                     [(i, row, 4, 8) for i, row in enumerate(data)]).get()
        results.sort(key=lambda x: x[0])  # the notebook re-sorts by index
        return [r for i, r in results]

    t_serial, serial = timed(serial_loop)
    t_map, mapped = timed(lambda: pool.map(howmany_within_range_rowonly, [row for row in data]))
    t_star, starred = timed(lambda: pool.starmap(howmany_within_range, [(row, 4, 8) for row in data]))
    t_async, async_counts = timed(async_sorted)

    print(f"  serial loop           {t_serial:8.3f} s")
    print(f"  Pool.map              {t_map:8.3f} s  ({t_serial / t_map:.2f}x serial)")
    print(f"  Pool.starmap          {t_star:8.3f} s  ({t_serial / t_star:.2f}x serial)")
    print(f"  Pool.starmap_async    {t_async:8.3f} s  ({t_serial / t_async:.2f}x serial)")
    first = serial[:10]
    print(f"  first 10 counts: {first}")
    if len(serial) != 1000000 or not (mapped == serial and starred == serial and async_counts == serial):
        raise RuntimeError("example: the four methods disagree")
    print(f"  all four agree on {len(serial):,} counts")
    return {"rows": len(data), "data": t_data, "serial": t_serial, "map": t_map,
            "starmap": t_star, "starmap_async": t_async, "first10": first}


def run_prob1(pool):
    print("== Problem 1: common items per row, Pool.starmap ==")
    list_a = [[1, 2, 3], [5, 6, 7, 8], [10, 11, 12], [20, 21]]
    list_b = [[2, 3, 4, 5], [6, 9, 10], [11, 12, 13, 14], [21, 24, 25]]
    prob1 = pool.starmap(common_items, zip(list_a, list_b))
    print(f"  {prob1}")
    return str(prob1)


def run_prob2(workers, mode):
    global BUSY_MODE
    BUSY_MODE = mode  # set before the pools fork, so their workers see it too
    work = [1, 2, 4, 6]
    cores = mp.cpu_count()
    spin = mode == "spin"
    total, longest = sum(work), max(work)
    print(f"== Problem 2: do_busy_work over {work} "
          f"({'spin: burns CPU' if spin else 'sleep: waits'}), cpu_count = {cores} ==")

    def bound(pool_size):
        """The best any schedule can do: the longest task, and the work spread over the tasks
        that really run at once (for spin, the pool size capped by the cores: spin is fixed
        CPU work)."""
        parallel = min(pool_size, cores) if spin else pool_size
        return max(longest, total / parallel)

    startup = {}

    def part(label, pool_size):
        if pool_size == 0:  # Part A: the builtin map, serial
            return timed(lambda: list(map(do_busy_work, work)))[0]
        startup[label], pool = started_pool(pool_size)
        with pool:
            seconds = timed(lambda: pool.map(do_busy_work, work))[0]
        return seconds

    print("  Part A: serial map")
    part1 = part("part1", 0)
    print(f"  Part B: Pool({workers}).map")
    part2 = part("part2", workers)
    print(f"  Part C: Pool({len(work)}).map (one worker per task)")
    part3 = part("part3", len(work))

    bound_a, bound_b, bound_c = total, bound(workers), bound(len(work))
    print(f"  Part A serial          {part1:7.3f} s   lower bound {bound_a:6.3f} s (all work in a row)")
    print(f"  Part B Pool({workers})        {part2:7.3f} s   lower bound {bound_b:6.3f} s"
          f"   speedup {part1 / part2:.2f}x   (pool start-up {startup['part2']:.3f} s, not timed)")
    print(f"  Part C Pool({len(work)})        {part3:7.3f} s   lower bound {bound_c:6.3f} s"
          f"   speedup {part1 / part3:.2f}x   (pool start-up {startup['part3']:.3f} s, not timed)")
    if not spin and workers < len(work):
        print(f"  Part B: {workers} workers run 4 tasks with chunksize 1, so the 6 s task starts only"
              " when a worker frees up")
    if spin and len(work) > cores:
        print(f"  Part C: {len(work)} busy workers share {cores} CPUs, so total work / cores bounds it")
    record = {"mode": mode, "work": work, "part1": part1, "part2": part2, "part3": part3,
              "workers_part2": workers, "workers_part3": len(work),
              "lower_bound": [bound_a, bound_b, bound_c],
              "speedup_part2": part1 / part2, "speedup_part3": part1 / part3,
              "pool_startup": [startup["part2"], startup["part3"]]}
    return part1, part2, part3, record


def run_prob3(pool):
    print("== Problem 3: min-max normalisation, seed 42, five sizes ==")
    sizes = [("Small", 100, 50), ("Medium", 1000, 50), ("Large", 10000, 50),
             ("XL", 50000, 100), ("XXL", 100000, 100)]
    # Check the edge cases on the notebook's small test rows first.
    tests = [[2, 3, 4, 5], [6, 9, 10, 12], [11, 12, 13, 14], [21, 24, 25, 26], [100, 100, 100, 100]]
    print(f"  test rows: {pool.map(normalize, tests)}")
    np.random.seed(42)
    table, lines, answer = [], [], None
    slower_somewhere = False
    for name, rows, cols in sizes:
        data = np.random.randint(0, 1000, size=(rows, cols)).tolist()
        t_serial, serial = timed(lambda: [normalize(row) for row in data])
        t_parallel, parallel = timed(lambda: pool.map(normalize, data))
        if parallel != serial:
            raise RuntimeError("prob3: serial and parallel results differ")
        speedup = t_serial / t_parallel
        slower_somewhere = slower_somewhere or speedup < 1.0
        lines.append(f"  {name:<8} | {rows:7d} | {cols:4d} | {t_serial:9.4f} | {t_parallel:11.4f} | {speedup:6.2f}x")
        print(f"  {name} done: serial {t_serial:.4f} s, Pool({pool._processes}).map {t_parallel:.4f} s")
        table.append({"name": name, "rows": rows, "cols": cols, "serial": t_serial,
                      "parallel": t_parallel, "speedup": speedup})
        if name == "XXL":
            answer = str(parallel[:5])
    print("  Dataset  |    Rows | Cols | Serial(s) | Parallel(s) | Speedup")
    print("  ---------+---------+------+-----------+-------------+--------")
    for line in lines:
        print(line)
    if slower_somewhere:
        print("  Where parallel is slower than serial, the work per row is smaller than the cost of"
              " handing it out (pickling rows to the workers and results back): parallelism pays"
              " only when each chunk does enough work.")
    print(f"  prob3 (first 5 normalised XXL rows): {answer[:70]}...")
    return answer, table


def write_atomically(path, text):
    """Writes through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="The lab notebook's steps with multiprocessing.Pool; writes soln.json.")
    parser.add_argument("--busy", choices=["sleep", "spin"], default="sleep",
                        help="Problem 2's do_busy_work: sleep (as the lab) or spin (burns CPU)")
    parser.add_argument("--skip-prob2", action="store_true",
                        help="skip Problem 2 (about 27 s with --busy sleep)")
    parser.add_argument("--workers", type=int, default=0,
                        help="pool size (default: mp.cpu_count(), as the notebook)")
    parser.add_argument("--out", default=".", help="folder for soln.json (default: the current folder)")
    parser.add_argument("--json", action="store_true",
                        help="print all timings as one JSON object on stdout (the narration goes to stderr)")
    args = parser.parse_args(argv)
    if args.workers < 0 or args.workers > 1024:
        parser.error(f"--workers must be between 1 and 1024 (got {args.workers})")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        parser.error(f"--out {args.out}: cannot create the folder ({e.strerror})")
    if not os.access(args.out, os.W_OK):
        parser.error(f"--out {args.out}: folder is not writable")
    return args


def main(argv):
    args = parse_args(argv)
    json_out = sys.stdout
    if args.json:
        # The narration (this process's prints and the pool workers', which inherit fd 1) goes to
        # stderr; the JSON goes to the original stdout.
        sys.stdout.flush()
        json_out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)

    workers = args.workers or mp.cpu_count()
    host = socket.gethostname()
    record = {"cpu_count": mp.cpu_count(), "workers": workers, "backend": "processes", "host": host,
              "python": platform.python_version(), "numpy": np.__version__,
              "start_method": mp.get_start_method()}
    answers = {}
    print(f"notebook.py: mp.cpu_count() = {mp.cpu_count()}, {workers} workers, multiprocessing.Pool"
          f" ({mp.get_start_method()}), Python {platform.python_version()}, numpy {np.__version__}")

    t_start, pool = started_pool(workers)
    record["pool_startup"] = t_start
    print(f"  Pool({workers}) started in {t_start:.3f} s (not timed in the steps)")
    with pool:
        record["example"] = run_example(pool)
        answers["prob1"] = record["prob1"] = run_prob1(pool)
        if not args.skip_prob2:
            part1, part2, part3, record["prob2"] = run_prob2(workers, args.busy)
            answers["prob2"] = {"part1": part1, "part2": part2, "part3": part3}
        answers["prob3"], record["prob3"] = run_prob3(pool)
    answers["host"] = host

    path = os.path.join(args.out, "soln.json")
    write_atomically(path, json.dumps(answers, indent=2))
    record["soln"] = path
    print(f"wrote {path}")
    sys.stdout.flush()
    if args.json:
        json_out.write(json.dumps(record, indent=2) + "\n")
        json_out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # one clear line, as parlab does
        sys.stderr.write(f"notebook.py: error: {e}\n")
        sys.exit(1)
