#!/bin/bash
# //spawn:piper against the shell: for every method and several pipelines
# (arguments, a failing middle stage, a missing middle stage, a failing last
# stage, SIGPIPE upstream), piper's stdout and exit code must equal what
# bash prints for the same pipeline. Plus usage errors and the stage report.
set -uo pipefail
piper="${TEST_SRCDIR}/${TEST_WORKSPACE}/spawn/piper"
work="${TEST_TMPDIR}/files"
mkdir -p "${work}"
cd "${work}" || exit 1
for i in $(seq 1 100); do : > "${i}"; done

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# check "<shell pipeline>" piper-args...
check() {
  local pipeline="$1"
  shift
  local want got want_code got_code method
  # The shell's answer (bash without pipefail: the last stage's status).
  want="$(bash -c "${pipeline}" 2>/dev/null)"
  want_code=$?
  for method in fork_exec vfork_exec posix_spawn clone_vfork clone3; do
    got="$("${piper}" --method="${method}" "$@" 2>"${TEST_TMPDIR}/stderr")"
    got_code=$?
    [[ "${got}" == "${want}" ]] || fail "${method}: piper $* printed '${got:0:200}', shell '${want:0:200}'"
    [[ "${got_code}" == "${want_code}" ]] || fail "${method}: piper $* exited ${got_code}, shell ${want_code}"
  done
}

check "ls | sort | head" ls sort head
check "ls -l | sort -r | head -3" ls -l -- sort -r -- head -3
check "seq 1 500 | grep 7 | sort -n -r | head -5" seq 1 500 -- grep 7 -- sort -n -r -- head -5
# A middle stage that fails: grep finds nothing and exits 1; wc still runs.
check "seq 10 | grep nomatch | wc -l" seq 10 -- grep nomatch -- wc -l
# A middle stage that does not exist: the shell says so and goes on.
check "seq 3 | oscost_no_such_cmd | wc -l" seq 3 -- oscost_no_such_cmd -- wc -l
# The last stage fails: its status is the pipeline's.
check "seq 3 | false" seq 3 -- false
check "ls | oscost_no_such_cmd" ls oscost_no_such_cmd
# The first stage dies of SIGPIPE once head has had enough.
check "seq 1000000 | head -2" seq 1000000 -- head -2

# Which stage failed to start, and why, on stderr.
"${piper}" seq 3 -- oscost_no_such_cmd -- wc -l > /dev/null 2> "${TEST_TMPDIR}/stderr"
grep -q "stage 2 (oscost_no_such_cmd) failed to start" "${TEST_TMPDIR}/stderr" \
  || fail "no stage report: $(cat "${TEST_TMPDIR}/stderr")"
: > "${TEST_TMPDIR}/notexec"
chmod 644 "${TEST_TMPDIR}/notexec"
"${piper}" ls -- "${TEST_TMPDIR}/notexec" > /dev/null 2> "${TEST_TMPDIR}/stderr"
code=$?
[[ ${code} == 126 ]] || fail "non-executable last stage exited ${code}, want 126"
grep -q "stage 2 .*PERMISSION_DENIED" "${TEST_TMPDIR}/stderr" \
  || fail "no permission report: $(cat "${TEST_TMPDIR}/stderr")"

# Usage errors exit 2 with a message; --help exits 0.
for args in "ls" "" "--method=spoon ls sort" "ls -- -- sort" "--bogus ls sort"; do
  # shellcheck disable=SC2086
  "${piper}" ${args} > /dev/null 2> "${TEST_TMPDIR}/stderr"
  code=$?
  [[ ${code} == 2 ]] || fail "piper ${args}: exit ${code}, want 2"
  [[ -s "${TEST_TMPDIR}/stderr" ]] || fail "piper ${args}: no message"
done
"${piper}" --help | grep -q "posix_spawn" || fail "--help lacks the methods"

if (( failures > 0 )); then
  echo "${failures} failure(s)" >&2
  exit 1
fi
echo "piper matches the shell"
