#!/usr/bin/env bash
# Checks scripts/netns-cluster. Usage: netns_cluster_test.sh MODE SCRIPT [MPI_PROGRAM]
#   - syntax: bash -n
#   - shellcheck: the script, and the launch agent it generates (its quoted AGENT here-document)
#   - help: --help exits 0 and prints the usage; a bad option exits 2
#   - run: a real run of MPI_PROGRAM (mpi_ring) across 3 namespaces, a failing command's
#     status passed through, and nothing left behind
#   - lab: `parlab lab --backend mpi --step prob1,prob3` across 3 namespaces (MPI_PROGRAM is the
#     parlab binary) writes the same prob1 and prob3 as the threads backend
#   - lost-rank: MpiPool across 3 namespaces (MPI_PROGRAM is tests/mpi's lost_rank) loses a rank
#     on another "host" mid-map, killed there, then a whole host (its link taken down): each map
#     completes with every result right
# run and lab exit 77 (ctest SKIP) when network namespaces cannot be created here.
set -euo pipefail
mode=$1
script=$2
fail() { printf 'FAIL: %b\n' "$*" >&2; exit 1; }
prefix=parlabtest

# Exits 77 (skip) with the reason when network namespaces cannot be created here.
skip_unless_netns() {
  local check rc
  set +e
  check=$("$script" --prefix "$prefix" --check 2>&1)
  rc=$?
  set -e
  if [ "$rc" -eq 77 ]; then
    echo "SKIP: $check"
    exit 77
  fi
  [ "$rc" -eq 0 ] || fail "--check exited with $rc: $check"
}
no_leftovers() {
  if ip netns list | grep -q "^$prefix-"; then fail "namespaces left behind: $(ip netns list)"; fi
}

case "$mode" in
  syntax)
    bash -n "$script"
    ;;
  shellcheck)
    command -v shellcheck >/dev/null 2>&1 || fail "shellcheck not found (scripts/install-deps installs it)"
    shellcheck "$script"
    agent=$(sed -n "/<<'AGENT'\$/,/^AGENT\$/p" "$script" | sed '1d;$d')
    [ -n "$agent" ] || fail "no AGENT here-document found in $script"
    shellcheck -s bash - <<<"$agent"
    ;;
  help)
    out=$("$script" --help) || fail "--help exited with $?"
    grep -q '^Usage: scripts/netns-cluster' <<<"$out" || fail "--help printed no usage line:\n$out"
    set +e
    "$script" --no-such-option >/dev/null 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || fail "a bad option exited with $rc, not 2"
    ;;
  run)
    program=$3
    skip_unless_netns

    set +e
    out=$("$script" --timeout 120 --prefix "$prefix" --hosts 3 -- "$program" 2>&1)
    rc=$?
    set -e
    echo "$out"
    [ "$rc" -eq 0 ] || fail "the run exited with $rc"
    grep -q 'mpi_ring: ring token 3 (want 3), allreduce 6 (want 6): OK' <<<"$out" || fail "no correct ring/allreduce result"
    for i in 0 1 2; do
      grep -q "mpi_ring: rank $i of 3 on $prefix-h$i\$" <<<"$out" || fail "rank $i did not run on host $prefix-h$i"
      grep -q "rank $i of 3: hostname $prefix-h$i, netns $prefix-h$i, eth0 10.213.0.1$i/24" <<<"$out" \
        || fail "rank $i's netns/address line is missing or wrong"
    done
    no_leftovers

    set +e
    out=$("$script" --timeout 120 --prefix "$prefix" --hosts 2 --no-where -- sh -c 'exit 3' 2>&1)
    rc=$?
    set -e
    [ "$rc" -eq 3 ] || fail "a command exiting 3 made the script exit $rc:\n$out"
    no_leftovers
    echo "PASS: 3-namespace ring over TCP, status passed through, nothing left behind"
    ;;
  lab)
    parlab=$3
    skip_unless_netns
    work=$(mktemp -d /tmp/netns-cluster-test.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    "$parlab" lab --step prob1,prob3 --out "$work/threads" >/dev/null 2>&1 || fail "parlab lab (threads) failed"
    set +e
    out=$("$script" --timeout 240 --prefix "$prefix" --hosts 3 -- \
      "$parlab" lab --backend mpi --step prob1,prob3 --out "$work/mpi" 2>&1)
    rc=$?
    set -e
    echo "$out" | grep -v 'agent: host' | tr '\r' '\n' | grep -v '^.\[K'
    [ "$rc" -eq 0 ] || fail "parlab lab --backend mpi across the namespaces exited with $rc"
    for i in 0 1 2; do
      grep -q "rank $i of 3: hostname $prefix-h$i, netns $prefix-h$i" <<<"$out" || fail "rank $i did not run on $prefix-h$i"
    done
    for key in prob1 prob3; do
      a=$(grep "\"$key\"" "$work/threads/soln.json") || fail "threads soln.json has no $key"
      b=$(grep "\"$key\"" "$work/mpi/soln.json") || fail "mpi soln.json has no $key"
      [ "$a" = "$b" ] || fail "$key differs between the threads and the mpi backend:\n${a:0:200}\n${b:0:200}"
    done
    no_leftovers
    echo "PASS: parlab lab --backend mpi across 3 namespaces: prob1 and prob3 equal the threads backend's"
    ;;
  lost-rank)
    program=$3
    skip_unless_netns
    work=$(mktemp -d /tmp/netns-cluster-test.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    # Rank 0 (host 0) kills a worker rank's process on another host mid-map: found dead at once, its work redone.
    set +e
    out=$("$script" --timeout 120 --prefix "$prefix" --hosts 3 --recovery -- "$program" outside "$work" 2>&1)
    rc=$?
    set -e
    echo "$out"
    [ "$rc" -eq 0 ] || fail "the job with a killed rank exited with $rc"
    grep -q 'lost_rank outside: PASS' <<<"$out" || fail "the map with a killed rank did not pass"
    grep -q 'lost rank [12] (pid [0-9]*): its process (pid [0-9]*) ended' <<<"$out" || fail "the killed rank's loss was not reported"
    no_leftovers
    # Host 2's link goes down while its rank runs an item: nothing more is heard from it, so it is
    # lost after the 3 s heartbeat_timeout and the map completes on hosts 0 and 1. mpirun itself
    # then waits on the daemon it cannot reach (Open MPI's runtime, not the job): --timeout ends it.
    set +e
    out=$("$script" --timeout 15 --prefix "$prefix" --hosts 3 --recovery -- "$program" cut-link "$work" 2>&1)
    rc=$?
    set -e
    echo "$out"
    [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || fail "the job with a host down exited with $rc"
    grep -q 'lost_rank cut-link: PASS' <<<"$out" || fail "the map with a host down did not pass"
    grep -q 'lost rank [12] (pid [0-9]*): silent for' <<<"$out" || fail "the cut-off rank's loss was not reported"
    grep -q 'parlab: MpiPool: rank [12] (pid [0-9]*) was lost' <<<"$out" || fail "rank 0 did not report the loss at exit"
    no_leftovers
    echo "PASS: a rank killed on another host and a host taken off the network: both maps complete"
    ;;
  *)
    fail "unknown mode '$mode'"
    ;;
esac
