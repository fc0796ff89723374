#!/usr/bin/env bash
# Builds and runs the CUDA C++ microbenchmarks (nvcc, sm_90) that the figures in docs/PERFORMANCE.md
# and some commit messages cite: hand-written kernels of the bench's shapes, timed the way the bench
# times (common.cuh). Not part of kiln; run on a GPU machine: `bash bench/micro/run.sh`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp}/kiln-micro"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader || true
for m in w8_chain rows elementwise; do
    nvcc -O3 -arch=sm_90 -std=c++17 -o "$out/$m" "$here/$m.cu"
    echo "=== $m"
    "$out/$m"
done
