#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz) with clang and runs each for N seconds.
#   bench/fuzz.sh [seconds-per-target]    (default 60; CI uses a short time)
# New inputs go to $B/corpus-<target> (the committed seed corpus is only read); crashes
# are written to $B/artifacts/. Exits non-zero if a target finds a crash.
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-60}
B=${DR3_FUZZ_BUILD:-build/fuzz}
cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Debug -DDR3_FUZZ=ON -DDR3_BUILD_EXAMPLES=OFF -DDR3_BUILD_BENCH=OFF \
    -DDR3_BUILD_TOOLS=OFF >/dev/null
# fuzz_hdf5 exercises libhdf5's own parser, which crashes on malformed files (a NULL memcpy
# in H5F__accum_read of libhdf5 1.10.8 within ~1,400 inputs): run it on request only
# (DR3_FUZZ_HDF5=1), with leak detection off and allocator_may_return_null (libhdf5 keeps
# global allocations and asks for huge sizes read from the file). docs/datasets.md.
TARGETS="fuzz_npy fuzz_gz fuzz_checkpoint fuzz_safetensors"
[ "${DR3_FUZZ_HDF5:-0}" = 1 ] && TARGETS="$TARGETS fuzz_hdf5"
# shellcheck disable=SC2086
cmake --build "$B" --target $TARGETS -j2
mkdir -p "$B/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1}
for t in $TARGETS; do
    mkdir -p "$B/corpus-$t"
    extra=""
    [ "$t" = fuzz_hdf5 ] && extra="-detect_leaks=0 -max_len=20000"
    # shellcheck disable=SC2086
    "$B/tests/fuzz/$t" -max_total_time="$SECS" -max_len=4096 $extra -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t-" "$B/corpus-$t" "tests/fuzz/corpus/$t"
done
