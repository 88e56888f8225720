#!/bin/bash
# //vmexit:hello end to end: two vCPUs and a served directory. The guest's
# file must appear in the directory, the table must show 14 exits for the
# per-character line and 1 for print, and the CLI must succeed (it fails when
# the three columns disagree). Skips (exit 0 with a note) without /dev/kvm.
set -euo pipefail
hello="${TEST_SRCDIR}/${TEST_WORKSPACE}/vmexit/hello"
dir="${TEST_TMPDIR}/served"
mkdir -p "${dir}"
if ! "${hello}" --vcpus=2 --dir="${dir}" > "${TEST_TMPDIR}/out.txt" 2> "${TEST_TMPDIR}/err.txt"; then
  cat "${TEST_TMPDIR}/err.txt" >&2
  if grep -Eq '^hello: (open /dev/kvm|KVM_GET_API_VERSION)' "${TEST_TMPDIR}/err.txt"; then
    echo "SKIP: KVM unavailable"
    exit 0
  fi
  exit 1
fi
cat "${TEST_TMPDIR}/out.txt"
[ "$(cat "${dir}/hello.txt")" = "Hello, world!" ]
grep -E '^console: .* +28 +28 +(28|n/a \(2\))$' "${TEST_TMPDIR}/out.txt"
grep -E '^print: .* +2 +2 +(2|n/a \(2\))$' "${TEST_TMPDIR}/out.txt"
# Escapes fail cleanly: an unknown flag is a usage error.
if "${hello}" --bogus 2>/dev/null; then exit 1; fi
