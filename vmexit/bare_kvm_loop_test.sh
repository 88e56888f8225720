#!/bin/bash
# //vmexit:bare_kvm_loop runs and reports a positive ns/exit (or skips, exit
# 77 from the program, where /dev/kvm cannot be opened).
set -uo pipefail
out="$("${TEST_SRCDIR}/${TEST_WORKSPACE}/vmexit/bare_kvm_loop" 2000 2)"
rc=$?
if [ ${rc} -eq 77 ]; then echo "SKIP: no /dev/kvm"; exit 0; fi
[ ${rc} -eq 0 ] || exit 1
echo "${out}"
echo "${out}" | grep -Eq ': [0-9]+\.[0-9] ns/exit'
