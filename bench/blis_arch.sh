#!/bin/sh
# Compares BLIS kernel configurations on this machine: libdr3's automatic choice, then each
# configuration forced through DR3_BLIS_ARCH (one process each: BLIS picks once per process).
# usage: bench/blis_arch.sh [build-dir] [threads]
set -eu
BUILD=${1:-build/release}
THREADS=${2:-1}
BIN="$BUILD/bench/blis_arch"
[ -x "$BIN" ] || { echo "build first: cmake --workflow --preset build" >&2; exit 2; }
unset BLIS_ARCH_TYPE
for arch in auto generic haswell zen3 skx; do
    echo "== DR3_BLIS_ARCH=$arch"
    DR3_BLIS_ARCH=$arch "$BIN" "$THREADS"
done
