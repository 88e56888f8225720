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
  --min-benchmarks 20 --require-prefix timers/ --require-prefix spawn/ --require-prefix vmexit/ --require-prefix maps/
# Benchmarks share one process: none may leave memory behind for the next.
# spawn's forks copy every page table, so the parent of
# spawn/fork_exit/rss_mib:0 must be as small as the benchmark binary itself.
/usr/bin/python3 - "${out}" <<'PY'
import json, sys
runs = {r["name"]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
row = runs["spawn/fork_exit/rss_mib:0"]
assert row.get("rss_mib", 0) < 32, f"parent carries {row.get('rss_mib')} MiB left by earlier benchmarks"
print("spawn/fork_exit/rss_mib:0 parent rss:", row["rss_mib"], "MiB")
PY
# A filter that matches nothing is an error, and leaves no results file.
mkdir -p "${TEST_TMPDIR}/ws"
if BUILD_WORKSPACE_DIRECTORY="${TEST_TMPDIR}/ws" "${runfiles}/bench/all" \
     --benchmark_filter='^no such benchmark$' 2>/dev/null; then
  echo "a filter matching nothing exited 0" >&2; exit 1
fi
[[ -z "$(ls -A "${TEST_TMPDIR}/ws/results" 2>/dev/null)" ]] || { echo "left a results file" >&2; exit 1; }
