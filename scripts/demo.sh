#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, builds the main demo and runs it: pre-training on Fashion-MNIST
# without labels, then linear probe, kNN and fine-tuning at 1%, 10% and 100% labels next to the
# floors. Arguments go to the demo (see examples/pretrain_fashion_mnist.cpp), e.g.
#   bash scripts/demo.sh --objective vicreg --epochs 20
# PRETEXT_DEMO_CONV2_CHANNELS=K builds the encoder with K channels in its second conv layer
# (default 64; the README measures 128 and 192); PRETEXT_DEMO_CONV_BN=ON adds batch norm after
# each conv (the README measures it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
build=${PRETEXT_BUILD_DIR:-build-demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRETEXT_BUILD_TESTS=OFF \
  -DPRETEXT_BUILD_BENCHMARKS=OFF \
  -DPRETEXT_DEMO_CONV2_CHANNELS="${PRETEXT_DEMO_CONV2_CHANNELS:-64}" \
  -DPRETEXT_DEMO_CONV_BN="${PRETEXT_DEMO_CONV_BN:-OFF}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target pretrain_fashion_mnist
"$build"/examples/pretrain_fashion_mnist "$@"
