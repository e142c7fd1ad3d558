#!/bin/sh
# Rewrites every C/C++ source in place with the project's .clang-format.
set -eu
cd "$(dirname "$0")/.."
find include src tests examples tools bench mpi -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) \
    -not -path '*/compat/v0_1/*' -print0 2>/dev/null | xargs -0 -r clang-format -i
