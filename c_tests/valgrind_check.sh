#!/usr/bin/env bash
# Runs an MPI test program under valgrind on every rank and fails on any
# invalid read, write or free in the run (errors inside the MPI library's own
# initialization, such as uninitialised-value reports, are not counted: the
# check is that dgampi never touches memory it must not).
#   valgrind_check.sh LOGDIR MPIEXEC [MPIEXEC FLAGS...] -- PROGRAM [ARGS...]
set -uo pipefail
logdir=$1; shift
launcher=()
while [ "$1" != "--" ]; do launcher+=("$1"); shift; done
shift
rm -rf "$logdir"; mkdir -p "$logdir"
"${launcher[@]}" valgrind --error-limit=no --log-file="$logdir/rank.%p.log" "$@"
rc=$?
bad=$(grep -h -A12 -E "Invalid (read|write|free)|Mismatched free|Source and destination overlap" "$logdir"/rank.*.log)
if [ -n "$bad" ]; then
    echo "valgrind found invalid memory accesses:"
    echo "$bad"
    exit 1
fi
echo "valgrind: no invalid read, write or free on any rank (program exit status $rc)"
exit "$rc"
