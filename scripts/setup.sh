#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages pretext needs, only those that are missing. Silent when all are
# present. Usage: scripts/setup.sh [core|test|demo|bench|fuzz|torch|all]   (default: all)
# torch: Debian's PyTorch for the scripts that compare with it or write the test fixtures
# (tests/fixtures/make_fixtures.py, benchmarks/*.py); about 1 GB, so not part of all.
set -euo pipefail

core=(g++ cmake make libeigen3-dev libxsimd-dev)
test=(doctest-dev)
demo=(zlib1g-dev nlohmann-json3-dev libstb-dev dataset-fashion-mnist)
bench=(libbenchmark-dev libopenblas-dev pkg-config)
fuzz=(clang libclang-rt-14-dev)
torch=(python3-torch)

case "${1:-all}" in
  core) want=("${core[@]}") ;;
  test) want=("${core[@]}" "${test[@]}" "${bench[@]}" "${demo[@]}") ;;
  demo) want=("${core[@]}" "${demo[@]}") ;;
  bench) want=("${core[@]}" "${bench[@]}") ;;
  fuzz) want=("${core[@]}" "${demo[@]}" "${fuzz[@]}") ;;
  torch) want=("${core[@]}" "${bench[@]}" "${torch[@]}") ;;
  all) want=("${core[@]}" "${test[@]}" "${demo[@]}" "${bench[@]}" "${fuzz[@]}") ;;
  *) echo "usage: $0 [core|test|demo|bench|fuzz|torch|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "pretext setup: missing Debian packages: ${missing[*]}" >&2
  echo "Run this script as root, or install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "pretext setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
