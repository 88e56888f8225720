#!/bin/bash
# setup.sh: install every Debian package oscost needs. Idempotent: packages
# already installed are left alone and apt is not even asked.
# Usage: tools/setup.sh   (as root, or with sudo available)
set -euo pipefail
packages=(
  bazel-bootstrap   # Bazel 4.2.3
  g++
  binutils          # vmexit guests: ld, objcopy
  libbenchmark-dev  # Google Benchmark 1.7.1
  libabsl-dev       # abseil 20220623
  libgtest-dev      # GoogleTest 1.12.1
  linux-perf        # perf stat, tools/perf_stat
  python3
  python3-scipy     # tools/compare: Mann-Whitney U
  python3-numpy
  python3-matplotlib  # tools/dashboard charts
  chromium          # tools/dashboard browser test (headless)
  sqlite3
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages present" >&2
  exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
