#!/bin/bash
# perf_stat prints a block per benchmark with a count for each event; an
# event the machine lacks is reported as such, not fatal.
set -euo pipefail
runfiles="${TEST_SRCDIR}/${TEST_WORKSPACE}"
out="$TEST_TMPDIR/out.txt"
"$runfiles/tools/perf_stat" -e task-clock,page-faults,cycles -f '^timers/(rdtsc|time)$' \
  "$runfiles/bench/timers_benchmark" --benchmark_min_time=0.001 > "$out"
cat "$out"
grep -qx "timers/rdtsc" "$out"
grep -qx "timers/time" "$out"
[[ $(grep -c "page-faults" "$out") -eq 2 ]]
# Page faults of a whole benchmark process are many, and a number.
grep "page-faults" "$out" | awk '{ if ($2 !~ /^[0-9]+$/ || $2 < 10) exit 1 }'
# cycles: a count where a PMU exists, "<not supported>" where none does.
grep "cycles" "$out" | grep -Eq '[0-9]+|<not supported>|<not counted>'
# A bad target is a clear error with exit 2.
if "$runfiles/tools/perf_stat" /nonexistent 2>"$TEST_TMPDIR/err"; then exit 1; fi
grep -q "not an executable" "$TEST_TMPDIR/err"
echo PASS
