#!/usr/bin/env bash
# Ctrl-C to mpirun in the middle of an MpiPool map: the job ends promptly with a failure status
# and no rank of it is left running.
#   interrupt.sh PROGRAM MPIRUN [MPIRUN FLAGS...]
set -euo pipefail
program=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" -np 3 "$program" long >"$out" 2>&1 &
job=$!
for _ in $(seq 100); do  # wait until rank 0 is mapping
  grep -q running "$out" && break
  sleep 0.1
done
grep -q running "$out" || { echo "the job did not start:"; cat "$out"; exit 1; }
sleep 0.5
start=$(date +%s)
kill -INT "$job"
status=0
for _ in $(seq 300); do
  kill -0 "$job" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$job" 2>/dev/null; then
  echo "mpirun still runs 30 s after SIGINT"
  kill -KILL "$job"
  exit 1
fi
wait "$job" || status=$?
took=$(($(date +%s) - start))
if [ "$status" -eq 0 ]; then
  echo "the interrupted job exited with status 0"
  exit 1
fi
sleep 0.5
if pgrep -f "$program long" >/dev/null; then
  echo "ranks left running after the interrupt:"
  pgrep -af "$program long"
  exit 1
fi
echo "mpirun ended with status $status ${took} s after SIGINT; no rank left"
