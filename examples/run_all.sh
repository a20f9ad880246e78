#!/bin/sh
# Runs every built example, with a header per example.
#   examples/run_all.sh [build-dir-of-the-examples]   (default: build/release/examples)
# Exits non-zero if any example fails (each example checks its own results).
set -u

dir=${1:-build/release/examples}
if [ ! -d "$dir" ]; then
  echo "run_all.sh: no directory $dir; build first (cmake --build --preset release)" >&2
  exit 2
fi

found=0
failed=""
for exe in "$dir"/example_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  found=$((found + 1))
  name=$(basename "$exe")
  echo "=== $name ==="
  # The MpiPool examples run as MPI jobs: rank 0 and two worker ranks (mpirun as root needs
  # --allow-run-as-root; --oversubscribe: more ranks than cores).
  case $name in
    example_mpi_lost_rank) launch="mpirun --allow-run-as-root --oversubscribe --enable-recovery -np 3" ;;
    example_mpi_*) launch="mpirun --allow-run-as-root --oversubscribe -np 3" ;;
    *) launch="" ;;
  esac
  # shellcheck disable=SC2086  # $launch is words
  if ! $launch "$exe"; then
    failed="$failed $name"
  fi
  echo
done

if [ "$found" -eq 0 ]; then
  echo "run_all.sh: no example_* programs in $dir" >&2
  exit 2
fi
if [ -n "$failed" ]; then
  echo "FAILED:$failed" >&2
  exit 1
fi
echo "all $found examples ran"
