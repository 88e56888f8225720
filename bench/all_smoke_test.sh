#!/bin/bash
# //bench:all as a smoke test: a tiny run of every benchmark; its JSON must
# parse strictly, carry every README-documented context key, and name each
# module's benchmarks.
set -euo pipefail
runfiles="${TEST_SRCDIR}/${TEST_WORKSPACE}"
out="${TEST_TMPDIR}/all.json"
"${runfiles}/bench/all" --benchmark_min_time=0.001 --benchmark_out="${out}" \
  --benchmark_out_format=json > "${TEST_TMPDIR}/stdout.txt"
grep -q "timers/clock_gettime/monotonic" "${TEST_TMPDIR}/stdout.txt"
"${runfiles}/tools/validate_results" "${out}" --readme "${runfiles}/README.md" \
  --min-benchmarks 20 --require-prefix timers/ --require-prefix spawn/
