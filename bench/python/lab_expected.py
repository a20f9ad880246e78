#!/usr/bin/python3
"""Prints, from Python, what the lab examples examples/lab_<name>.cpp print, so that their
expected outputs (examples/expected/lab_<name>.txt) are Python's own bytes, not parlab's:

  for n in example prob1 prob3 soln; do
    /usr/bin/python3 bench/python/lab_expected.py $n | diff - examples/expected/lab_$n.txt
  done

It uses the notebook's functions from notebook.py, serially (the pool gives the same results;
notebook.py checks that). lab_prob2 prints no Python value, so it has no counterpart here.
Exit status: 0 done, 2 unknown name, 3 numpy missing.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook import common_items, howmany_within_range, normalize, np  # noqa: E402  (exits 3 without numpy)


def example():
    np.random.seed(100)
    data = np.random.randint(0, 10, size=[1000000, 5]).tolist()
    counts = [howmany_within_range(row, 4, 8) for row in data]
    print(f"rows: {len(data)}")
    print(f"first row: {data[0]}")
    print(f"first 10 counts: {counts[:10]}")
    print(f"serial loop, Pool.map, Pool.starmap and Pool.starmap_async agree on all {len(counts)} counts")


def prob1():
    list_a = [[1, 2, 3], [5, 6, 7, 8], [10, 11, 12], [20, 21]]
    list_b = [[2, 3, 4, 5], [6, 9, 10], [11, 12, 13, 14], [21, 24, 25]]
    print(f"prob1: {[common_items(a, b) for a, b in zip(list_a, list_b)]}")
    print(f"common_items([3, 1, 3, 2], [2, 3]): {common_items([3, 1, 3, 2], [2, 3])}")


def prob3():
    tests = [[2, 3, 4, 5], [6, 9, 10, 12], [11, 12, 13, 14], [21, 24, 25, 26], [100, 100, 100, 100]]
    print(f"test rows: {[normalize(row) for row in tests]}")
    np.random.seed(42)
    sizes = [("Small", 100, 50), ("Medium", 1000, 50), ("Large", 10000, 50), ("XL", 50000, 100),
             ("XXL", 100000, 100)]
    for name, rows, cols in sizes:
        data = np.random.randint(0, 1000, size=(rows, cols)).tolist()
        normalised = [normalize(row) for row in data]
        print(f"{name:<7}{rows:>7} x {cols:>3}  row 0 starts {normalised[0][:4]}")
    answer = str(normalised[:5])
    print(f"prob3 ({len(answer)} characters):\n{answer}")


def soln():
    answers = {"prob1": "[[2, 3], [6], [11, 12], [21]]",
               "prob2": {"part1": 6.012491918998421, "part2": 3.060048302002542, "part3": 7.091866148999543},
               "prob3": "[[0.0, 0.33, 0.67, 1.0], ...]",
               "host": "your-ec2-hostname"}
    print(json.dumps(answers, indent=2))
    print(json.dumps({"prob1": answers["prob1"], "host": answers["host"]}, indent=2))
    print('py_json_string("caf\\u00e9"): ' + json.dumps("caf\u00e9"))


if __name__ == "__main__":
    names = {"example": example, "prob1": prob1, "prob3": prob3, "soln": soln}
    if len(sys.argv) != 2 or sys.argv[1] not in names:
        sys.stderr.write(f"usage: lab_expected.py {{{'|'.join(names)}}}\n")
        sys.exit(2)
    names[sys.argv[1]]()
