#!/bin/sh
# Builds the Debian packages the way README.md documents (its package command, the `deb`
# preset: packages in build/deb), checks them with lintian, installs them with dpkg, then
# uses them as a user would: man pages for every exported function and public type, the
# examples built out of tree with find_package(dr3) and with pkg-config (shared and
# static), the C++ consumer as C++11/17/20 with g++ and clang++, and the dr3 command.
# Finally removes the packages. Needs root (dpkg) and lintian.
set -eu
cd "$(dirname "$0")/.."
B=build/deb
if [ $# -gt 0 ] && [ "$1" != "$B" ]; then
    echo "the deb preset builds in $B (asked for $1)" >&2
    exit 2
fi
W=$(mktemp -d)
INSTALLED=""
cleanup() {
    # a failed check must not leave the packages installed
    [ -z "$INSTALLED" ] || dpkg -r $INSTALLED >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
PKG_CMD=$(awk '/<!-- package-command -->/ { getline; getline; print; exit }' README.md)
[ -n "$PKG_CMD" ] || { echo "no package command found in README.md" >&2; exit 1; }
echo "== $PKG_CMD"
rm -f "$B"/*.deb
sh -c "$PKG_CMD" >"$W/package.log" 2>&1 || { cat "$W/package.log" >&2; exit 1; }
ls "$B"/libdr3-[0-9]*.deb "$B"/libdr3-dev_*.deb "$B"/dr3-tools_*.deb >/dev/null
echo "== lintian"
lintian --fail-on error "$B"/*.deb || { echo "lintian reported errors" >&2; exit 1; }
echo "== apt-get install (the packages and their dependencies)"
INSTALLED="dr3-tools libdr3-dev $(dpkg-deb -f "$B"/libdr3-[0-9]*.deb Package)"
# libdr3-mpi<N> and libdr3-mpi-dev when the build found MPI (dr3-tools then depends on it)
MPI_DEBS=$(ls "$B"/libdr3-mpi[0-9]*.deb "$B"/libdr3-mpi-dev_*.deb 2>/dev/null || true)
if [ -n "$MPI_DEBS" ]; then
    INSTALLED="libdr3-mpi-dev $(dpkg-deb -f "$B"/libdr3-mpi[0-9]*.deb Package) $INSTALLED"
fi
# apt installs the local packages as a user would, with what they depend on (libdr3-mpi-dev
# needs mpi-default-dev, which the build itself does not)
DEBS=""
for d in "$B"/libdr3-[0-9]*.deb "$B"/libdr3-dev_*.deb $MPI_DEBS "$B"/dr3-tools_*.deb; do
    DEBS="$DEBS $(cd "$(dirname "$d")" && pwd)/$(basename "$d")"
done
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $DEBS >/dev/null
LIBDIR=$(pkg-config --variable=libdir dr3)
echo "== man pages"
cmake -DLIB="$(ls "$LIBDIR"/libdr3.so.[0-9]*.*)" -DNM=nm -DGZIP=gzip \
    -DMAN="$(command -v man || true)" -DSOURCE_DIR="$PWD" -DMANROOT=/usr/share/man \
    -P tests/check_man_pages.cmake
echo "== find_package(dr3)"
cmake -S examples -B "$W/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$W/cmake" -j2 >/dev/null
for exe in custom_loop cpp_consumer custom_backup custom_regularizer; do
    ldd "$W/cmake/$exe" | grep -Eq "libdr3.so.[0-9]+ => /(usr/)?lib/" || { echo "$exe: not linked to the installed libdr3.so:" >&2; ldd "$W/cmake/$exe" >&2; exit 1; }
    "$W/cmake/$exe" --quick >/dev/null
    echo "   $exe ok"
done
echo "== pkg-config dr3"
case "$(pkg-config --cflags dr3)" in
    *..*) echo "pkg-config --cflags dr3 has a relative path: $(pkg-config --cflags dr3)" >&2; exit 1 ;;
esac
cc -std=c11 -O2 examples/custom_loop.c -o "$W/custom_loop" $(pkg-config --cflags --libs dr3) -lm
c++ -std=c++11 -O2 examples/cpp_consumer.cpp -o "$W/cpp_consumer" $(pkg-config --cflags --libs dr3)
"$W/custom_loop" --quick >/dev/null && "$W/cpp_consumer" --quick >/dev/null
echo "   custom_loop, cpp_consumer ok"
# static: libdr3.a plus exactly what `pkg-config --static` lists (libdr3-dev's Depends)
STATIC_LIBS=$(pkg-config --static --libs dr3 | sed 's/-ldr3\b/-l:libdr3.a/')
cc -std=c11 -O2 examples/custom_loop.c -o "$W/custom_loop_static" $(pkg-config --cflags dr3) $STATIC_LIBS -lm
! ldd "$W/custom_loop_static" | grep -q libdr3 || { echo "static link still loads libdr3.so" >&2; exit 1; }
"$W/custom_loop_static" --quick >/dev/null
echo "   custom_loop (static, pkg-config --static) ok"
echo "== C++ consumer: C++11, C++17, C++20"
for cxx in g++ clang++; do
    command -v "$cxx" >/dev/null || continue
    for std in 11 17 20; do
        "$cxx" -std=c++$std -Wall -Wextra -Wpedantic -Werror -O1 examples/cpp_consumer.cpp \
            -o "$W/cpp_$std" $(pkg-config --cflags --libs dr3)
        "$W/cpp_$std" --quick >/dev/null
        echo "   $cxx -std=c++$std ok"
    done
done
if [ -n "$MPI_DEBS" ]; then
    echo "== pkg-config dr3-mpi, mpirun -np 2"
    cc -std=c11 -O2 tests/mpi/consumer.c -o "$W/mpi_consumer" $(pkg-config --cflags --libs dr3-mpi)
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
        mpirun -np 2 "$W/mpi_consumer" | grep -c identical | grep -qx 2 ||
        { echo "the libdr3-mpi consumer failed under mpirun" >&2; exit 1; }
    echo "   mpi_consumer ok"
fi
echo "== dr3 command"
dr3 info | head -3
dr3 --help >/dev/null
! readelf -d "$(command -v dr3)" | grep -Eq 'RPATH|RUNPATH' || { echo "/usr/bin/dr3 has a RUNPATH" >&2; exit 1; }
echo "== dpkg -r"
dpkg -r $INSTALLED >/dev/null
INSTALLED=""
! dpkg -s libdr3-dev >/dev/null 2>&1 || { echo "libdr3-dev still installed" >&2; exit 1; }
echo "deb install test passed"
