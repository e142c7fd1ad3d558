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
cmake --build "$B" --target fuzz_npy fuzz_gz fuzz_checkpoint fuzz_safetensors -j2
mkdir -p "$B/artifacts"
for t in fuzz_npy fuzz_gz fuzz_checkpoint fuzz_safetensors; do
    mkdir -p "$B/corpus-$t"
    "$B/tests/fuzz/$t" -max_total_time="$SECS" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t-" "$B/corpus-$t" "tests/fuzz/corpus/$t"
done
