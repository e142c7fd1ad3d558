#!/bin/sh
# Builds the Debian packages, installs them with dpkg, builds the examples out of tree
# against the installed package (find_package(dr3) and pkg-config dr3), runs them and the
# dr3 command, then removes the packages. Needs root (dpkg) and lintian.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build/deb}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DDR3_BUILD_TESTS=OFF -DDR3_BUILD_BENCH=OFF -DDR3_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$B" -j2 >/dev/null
(cd "$B" && rm -f ./*.deb && cpack -G DEB >/dev/null)
echo "== lintian"
lintian --fail-on error "$B"/*.deb || { echo "lintian reported errors" >&2; exit 1; }
echo "== dpkg -i"
dpkg -i "$B"/libdr3-[0-9]*.deb "$B"/libdr3-dev_*.deb "$B"/dr3-tools_*.deb >/dev/null
echo "== find_package(dr3)"
cmake -S examples -B "$W/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$W/cmake" -j2 >/dev/null
for exe in custom_loop cpp_consumer custom_backup custom_regularizer; do
    ldd "$W/cmake/$exe" | grep -Eq "libdr3.so.[0-9]+ => /(usr/)?lib/" || { echo "$exe: not linked to the installed libdr3.so:" >&2; ldd "$W/cmake/$exe" >&2; exit 1; }
    "$W/cmake/$exe" --quick >/dev/null
    echo "   $exe ok"
done
echo "== pkg-config dr3"
cc -std=c11 -O2 examples/custom_loop.c -o "$W/custom_loop" $(pkg-config --cflags --libs dr3) -lm
c++ -std=c++11 -O2 examples/cpp_consumer.cpp -o "$W/cpp_consumer" $(pkg-config --cflags --libs dr3)
"$W/custom_loop" --quick >/dev/null && "$W/cpp_consumer" --quick >/dev/null
echo "   custom_loop, cpp_consumer ok"
echo "== dr3 command"
dr3 info | head -3
dr3 --help >/dev/null
echo "== dpkg -r"
dpkg -r dr3-tools libdr3-dev "$(dpkg-deb -f "$B"/libdr3-[0-9]*.deb Package)" >/dev/null
! dpkg -s libdr3-dev >/dev/null 2>&1 || { echo "libdr3-dev still installed" >&2; exit 1; }
echo "deb install test passed"
