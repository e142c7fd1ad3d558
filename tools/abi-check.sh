#!/bin/sh
# ABI gate: compares the public ABI of a release build of libdr3.so with the committed
# baseline abi/libdr3.abi (libabigail). Fails on any change to an existing function or
# type; new functions pass (--no-added-syms).
#   tools/abi-check.sh [build-dir]            check
#   tools/abi-check.sh --update [build-dir]   rewrite the baseline (commit it with the change)
# Needs abigail-tools; the build must have debug info (the 'abi' preset adds -g).
set -eu
cd "$(dirname "$0")/.."
UPDATE=0
if [ "${1:-}" = "--update" ]; then UPDATE=1; shift; fi
BUILD=${1:-build/abi}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDR3_BUILD_TESTS=OFF \
        -DDR3_BUILD_BENCH=OFF -DDR3_BUILD_EXAMPLES=OFF -DDR3_BUILD_TOOLS=OFF >/dev/null
fi
cmake --build "$BUILD" --target dr3_shared -j2 >/dev/null
LIB=$(ls "$BUILD"/src/libdr3.so.*.*.* | head -n 1)
# Only types defined in the public headers count (--drop-private-types: the layout of
# opaque handles is private); experimental declarations are left
# out because the headers are read without DR3_EXPERIMENTAL.
HDRS="--headers-dir include/dr3 --headers-dir include/dr3/sys --headers-dir $BUILD/include/dr3"
CURRENT="$BUILD/libdr3.abi"
# shellcheck disable=SC2086
abidw --no-show-locs --no-corpus-path --drop-private-types $HDRS \
    --suppressions abi/experimental.suppr --out-file "$CURRENT" "$LIB"
if [ "$UPDATE" -eq 1 ]; then
    cp "$CURRENT" abi/libdr3.abi
    echo "baseline updated: abi/libdr3.abi"
    exit 0
fi
[ -f abi/libdr3.abi ] || { echo "no baseline: run tools/abi-check.sh --update" >&2; exit 1; }
set +e
abidiff --no-added-syms --suppressions abi/experimental.suppr abi/libdr3.abi "$CURRENT"
rc=$?
set -e
# abidiff's exit code is a bit field: 4 = ABI change, 8 = incompatible change; 1/2 = error.
if [ $((rc & 3)) -ne 0 ]; then echo "abidiff failed to run (status $rc)" >&2; exit 1; fi
if [ $((rc & 8)) -ne 0 ]; then echo "ABI check: INCOMPATIBLE change against abi/libdr3.abi" >&2; exit 1; fi
if [ $((rc & 4)) -ne 0 ]; then
    # abidiff could not prove the change harmless (a moved member, a changed enum, a grown
    # struct). Appending a field is allowed only with its _VERSION bumped (docs/api-stability.md); if that
    # is all the report shows, update the baseline in the same commit (--update).
    echo "ABI check: FAILED: an existing type or function changed (see above)" >&2
    exit 1
fi
echo "ABI check: no changes against abi/libdr3.abi"
