#!/usr/bin/env bash
# Installs NVRTC 13.0 (and the CUDA headers it needs: cuda_fp16.h, cuda_bf16.h) from PyPI wheels, so CI
# can compile kiln's CUDA kernels to PTX without a GPU or a driver. Usage:
#   source <(.ci/nvrtc.sh)        or        .ci/nvrtc.sh && source "$KILN_NVRTC_DIR/env.sh"
# It prints (and writes to $KILN_NVRTC_DIR/env.sh) the exports KILN_NVRTC_LIB, KILN_CUDA_INCLUDE and
# LD_LIBRARY_PATH. Everything else goes to stderr. Pinned to 13.0.x to match the GPU machine's driver.
set -euo pipefail

NVRTC_VERSION="13.0.88"
RUNTIME_VERSION="13.0.96"
DIR="${KILN_NVRTC_DIR:-${HOME:-/tmp}/.cache/kiln-nvrtc}"
PYTHON="${PYTHON:-python3}"

if [[ ! -f "$DIR/.installed-$NVRTC_VERSION-$RUNTIME_VERSION" ]]; then
    rm -rf "$DIR"
    mkdir -p "$DIR"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile --target "$DIR" \
        "nvidia-cuda-nvrtc==$NVRTC_VERSION" "nvidia-cuda-runtime==$RUNTIME_VERSION" >&2
    touch "$DIR/.installed-$NVRTC_VERSION-$RUNTIME_VERSION"
fi

lib="$(find "$DIR/nvidia" -name 'libnvrtc.so.13*' ! -name '*builtins*' | sort | head -n 1)"
header="$(find "$DIR/nvidia" -name cuda_fp16.h | head -n 1)"
if [[ -z "$lib" || -z "$header" ]]; then
    echo "nvrtc.sh: libnvrtc.so.13 or cuda_fp16.h missing under $DIR" >&2
    exit 1
fi
libdir="$(dirname "$lib")"
include="$(dirname "$header")"

{
    echo "export KILN_NVRTC_LIB='$lib'"
    echo "export KILN_CUDA_INCLUDE='$include'"
    echo "export LD_LIBRARY_PATH='$libdir'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
} | tee "$DIR/env.sh"
echo "nvrtc.sh: NVRTC $NVRTC_VERSION at $lib, headers at $include (source $DIR/env.sh)" >&2
