#!/bin/sh
# Installs what libdr3 needs to build and test on Debian 12 / Ubuntu, skipping what is
# already there. Uses sudo when not run as root. (python3-numpy and python3-h5py are for one
# test, which reads the D4RL files libdr3 writes with an independent reader; never needed at
# run time.)
set -eu
PKGS="cmake make gcc g++ pkg-config libblis-dev libcmocka-dev zlib1g-dev libhdf5-dev clang-format doxygen openmpi-bin libopenmpi-dev python3-numpy python3-h5py"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
