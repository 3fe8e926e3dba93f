#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, builds the main demo and runs it on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
build=${PRETEXT_BUILD_DIR:-build-demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRETEXT_BUILD_TESTS=OFF \
  -DPRETEXT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fashion_mnist_cnn
"$build"/examples/fashion_mnist_cnn "$@"
