#!/bin/bash
# perf_stat: run each benchmark of a benchmark binary under `perf stat`, one
# process per benchmark, and print the counts per benchmark run.
#
# Usage: bazel run //tools:perf_stat -- [-e EVENTS] [-f REGEX] TARGET [BENCHMARK FLAGS...]
#   TARGET   a Bazel label of a benchmark binary (//bench:all, //bench:timers_benchmark;
#            built first) or a path to one
#   -e       comma-separated perf events (default: task-clock,page-faults,
#            context-switches,cpu-migrations,cycles,instructions); unsupported
#            ones print "<not supported>" rather than failing
#   -f       only benchmarks matching this regex (Google Benchmark filter syntax)
# Output: one block per benchmark: its name, then one line per event:
#   <benchmark name>
#     <event>  <count>  [<unit>]   (or: <not supported>/<not counted>)
# Counts cover the whole process: start-up, context collection (~0.1 s of TSC
# calibration) and the benchmark's run.
set -euo pipefail

events="task-clock,page-faults,context-switches,cpu-migrations,cycles,instructions"
filter="."
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "e:f:h" opt; do
  case "$opt" in
    e) events="$OPTARG" ;;
    f) filter="$OPTARG" ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [[ $# -lt 1 ]]; then usage >&2; exit 2; fi
target="$1"; shift
command -v perf >/dev/null || { echo "perf_stat: perf not found (install linux-perf; tools/setup.sh does)" >&2; exit 2; }

if [[ "$target" == //* ]]; then
  ws="${BUILD_WORKSPACE_DIRECTORY:-$PWD}"
  (cd "$ws" && bazel build "$target" >&2)
  pkg="${target#//}"; name="${pkg##*:}"; pkg="${pkg%%:*}"
  binary="$ws/bazel-bin/$pkg/$name"
else
  binary="$target"
  [[ "$binary" == /* ]] || binary="${BUILD_WORKING_DIRECTORY:-$PWD}/$binary"
fi
[[ -x "$binary" ]] || { echo "perf_stat: $binary is not an executable benchmark binary" >&2; exit 2; }

mapfile -t names < <("$binary" --benchmark_list_tests --benchmark_filter="$filter")
if [[ ${#names[@]} -eq 0 ]]; then echo "perf_stat: no benchmark matches '$filter'" >&2; exit 1; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for name in "${names[@]}"; do
  # Anchor the exact name; escape regex metacharacters it may contain.
  re="^$(printf '%s' "$name" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$"
  perf stat -x, -e "$events" -o "$tmp/stat.csv" -- "$binary" --benchmark_filter="$re" \
    --benchmark_out="$tmp/run.json" --benchmark_out_format=json "$@" > "$tmp/out.txt" 2>"$tmp/err.txt" || {
      echo "perf_stat: $name failed:" >&2; cat "$tmp/err.txt" >&2; exit 1; }
  # The benchmark must really have run: its row is in the JSON.
  grep -qF "\"name\": \"$name\"" "$tmp/run.json" || {
    echo "perf_stat: $name did not run (filter $re):" >&2; cat "$tmp/err.txt" >&2; exit 1; }
  echo "$name"
  # perf's CSV: count,unit,event,run-time,percentage,... ; comments start with #.
  awk -F, '!/^#/ && NF >= 3 { printf "  %-20s %s %s\n", $3, $1, $2 }' "$tmp/stat.csv"
done
