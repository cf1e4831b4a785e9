#!/usr/bin/env bash
# Builds consumer.c the way a Makefile user would:
#   mpicc consumer.c $(pkg-config --cflags --libs dgampi)
# with PKG_CONFIG_PATH pointing at the installed dgampi.pc, then runs it.
# Usage: pkgconfig_check.sh PKG_CONFIG_DIR MPICC SOURCE WORKDIR MPIEXEC [MPIEXEC ARGS...]
set -euo pipefail
pcdir=$1 mpicc=$2 src=$3 work=$4
shift 4
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
mkdir -p "$work"
pkg-config --exists --print-errors dgampi
echo "pkg-config: dgampi $(pkg-config --modversion dgampi)"
cflags=$(pkg-config --cflags dgampi)
libs=$(pkg-config --libs dgampi)
libdir=$(pkg-config --variable=libdir dgampi)
[ -f "$libdir/libdgampi.so" ] || { echo "libdir '$libdir' has no libdgampi.so" >&2; exit 1; }
[ -f "$(pkg-config --variable=includedir dgampi)/dgampi.h" ] || { echo "includedir has no dgampi.h" >&2; exit 1; }
echo "+ $mpicc $src $cflags $libs -Wl,-rpath,$libdir"
# shellcheck disable=SC2086
"$mpicc" -std=c99 -Wall -Werror -o "$work/pkgconfig_consumer" "$src" $cflags $libs -Wl,-rpath,"$libdir"
"$@" "$work/pkgconfig_consumer"
