#!/bin/bash
# The maps suite as a smoke test: a tiny run whose JSON must validate and name
# every benchmark of the issue.
set -euo pipefail
runfiles="${TEST_SRCDIR}/${TEST_WORKSPACE}"
out="${TEST_TMPDIR}/maps.json"
"${runfiles}/maps/maps_benchmark" --benchmark_min_time=0.001 --benchmark_out="${out}" \
  --benchmark_out_format=json > "${TEST_TMPDIR}/stdout.txt"
"${runfiles}/tools/validate_results" "${out}" --min-benchmarks 17 --require-prefix maps/
python3 - "${out}" <<'PY'
import json, sys
names = {b["name"] for b in json.load(open(sys.argv[1]))["benchmarks"]}
want = {f"maps/parse/mappings:{n}" for n in (100, 10000)}
for s in ("pagemap", "pagemap_kpagecount", "mincore", "pagemap_scan", "pagemap_per_page"):
    want |= {f"maps/residency/{s}/pages:{n}" for n in (1024, 262144, 16777216)}
missing = want - names
assert not missing, f"missing benchmarks: {sorted(missing)}"
PY
