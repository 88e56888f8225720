#!/bin/bash
# //spawn:spawn_benchmark as a smoke test: a tiny run of every spawn
# benchmark; the JSON must parse strictly and hold every name of the
# public interface, each with a number or a skip reason.
set -euo pipefail
runfiles="${TEST_SRCDIR}/${TEST_WORKSPACE}"
out="${TEST_TMPDIR}/x.json"
"${runfiles}/spawn/spawn_benchmark" --benchmark_min_time=0.001 --benchmark_out="${out}" \
  --benchmark_out_format=json > "${TEST_TMPDIR}/stdout.txt"
"${runfiles}/tools/validate_results" "${out}" --min-benchmarks 31 --require-prefix spawn/
for method in fork_exit fork_exec vfork_exec posix_spawn clone_vfork clone3; do
  for n in 0 64 256 1024; do
    grep -q "\"name\": \"spawn/${method}/rss_mib:${n}\"" "${out}" \
      || { echo "missing spawn/${method}/rss_mib:${n}" >&2; exit 1; }
  done
done
for set in user pid mount uts ipc net isolate; do
  grep -q "\"name\": \"spawn/clone_ns/${set}\"" "${out}" \
    || { echo "missing spawn/clone_ns/${set}" >&2; exit 1; }
done
# The exec benchmarks must have run (the helper found), not skipped.
if grep -q "spawn_helper not found" "${out}"; then
  echo "spawn_helper not found from the benchmark" >&2
  exit 1
fi
