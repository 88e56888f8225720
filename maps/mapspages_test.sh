#!/bin/bash
# mapspages end to end: the format on a live process, --range, --json, --help,
# and the errors for a missing or unreadable PID.
set -euo pipefail
bin="${TEST_SRCDIR}/${TEST_WORKSPACE}/maps/mapspages"
tmp="${TEST_TMPDIR}"
fail() { echo "FAIL: $*" >&2; exit 1; }

sleep 60 & target=$!
trap 'kill ${target} 2>/dev/null || true' EXIT

"${bin}" --help | grep -q "usage: mapspages PID" || fail "--help"
"${bin}" "${target}" > "${tmp}/out.txt" 2> "${tmp}/err.txt" || fail "scan: $(cat "${tmp}/err.txt")"
# Header lines (as in /proc/PID/maps) alternate with page lines of . 1-9 x s ? 0,
# one character per page of the mapping.
python3 - "${tmp}/out.txt" "${target}" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "output ends with a newline"
lines = lines[:-1]
assert len(lines) % 2 == 0 and lines, len(lines)
maps = open(f"/proc/{sys.argv[2]}/maps").read().splitlines()
assert len(lines) // 2 == len(maps), (len(lines) // 2, len(maps))
for header, pages in zip(lines[0::2], lines[1::2]):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) [r-][w-][x-][sp] [0-9a-f]{8,} [0-9a-f]{2}:[0-9a-f]{2} \d+( .*)?$", header)
    assert m, header
    n = (int(m.group(2), 16) - int(m.group(1), 16)) // 4096
    assert len(pages) == n, (header, len(pages), n)
    assert re.fullmatch(r"[.1-9xs?0]*", pages), pages
stack = [p for h, p in zip(lines[0::2], lines[1::2]) if h.endswith("[stack]")]
assert stack and stack[0][-1] != ".", "stack top resident"
PY

# --range: only the mapping(s) overlapping the range, clipped.
first=$(head -1 "/proc/${target}/maps" | cut -d' ' -f1)
start=${first%-*}
end=$(printf '%x' $((16#${start} + 4096)))
"${bin}" "${target}" --range "${start}-${end}" > "${tmp}/range.txt"
[ "$(wc -l < "${tmp}/range.txt")" = 2 ] || fail "--range gave $(cat "${tmp}/range.txt")"
[ "$(sed -n 2p "${tmp}/range.txt" | tr -d '\n' | wc -c)" = 1 ] || fail "--range pages"

"${bin}" "${target}" --json > "${tmp}/out.json"
python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['pid'] == int(sys.argv[2]) and d['complete'] and d['mappings'], d
for m in d['mappings']:
    n = (int(m['end'], 16) - int(m['start'], 16)) // 4096
    assert len(m['pages']) == n, m
" "${tmp}/out.json" "${target}" || fail "--json"

# Errors: a PID that does not exist, a bad argument, an unreadable process.
if "${bin}" 2147483647 > /dev/null 2> "${tmp}/err.txt"; then fail "missing pid accepted"; fi
grep -q "no process 2147483647" "${tmp}/err.txt" || fail "missing pid message: $(cat "${tmp}/err.txt")"
if "${bin}" abc 2> /dev/null; then fail "bad pid accepted"; fi
set +e; "${bin}" abc 2> /dev/null; rc=$?; set -e
[ "${rc}" = 2 ] || fail "usage exit status ${rc}"
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  set +e
  setpriv --reuid=65534 --regid=65534 --clear-groups "${bin}" 1 > /dev/null 2> "${tmp}/err.txt"
  rc=$?
  set -e
  [ "${rc}" = 1 ] || fail "unreadable pid: exit ${rc}"
  grep -qi "permission denied\|may not read" "${tmp}/err.txt" || fail "unreadable: $(cat "${tmp}/err.txt")"
else
  echo "skipped the unreadable-PID check: needs root and setpriv"
fi
echo PASS
