#!/usr/bin/env bash
# Builds and runs the CUDA C++ microbenchmarks (nvcc, sm_90) that the figures in docs/PERFORMANCE.md
# and some commit messages cite: hand-written kernels of the bench's shapes, timed the way the bench
# times (common.cuh). Not part of kiln; run on a GPU machine: `bash bench/micro/run.sh`. Binaries go to
# /tmp/kiln-micro; each program's output is printed and kept in $OUT/micro-<name>.txt (else /tmp).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin=/tmp/kiln-micro
logs="${OUT:-/tmp}"
mkdir -p "$bin" "$logs"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader || true
for m in w8_chain rows elementwise; do
    nvcc -O3 -arch=sm_90 -std=c++17 -o "$bin/$m" "$here/$m.cu"
    echo "=== $m"
    "$bin/$m" | tee "$logs/micro-$m.txt"
done
