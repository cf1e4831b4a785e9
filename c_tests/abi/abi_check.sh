#!/bin/sh
# abi_check.sh MODE BASELINE_DIR LIBRARY [ARGS...]
#
# The ABI check of CI (registered by c_tests/CMakeLists.txt), against the
# committed baseline of the last release with this soname:
#   BASELINE_DIR/dgampi-0.2.h        the released header (DGAMPI_SONAME inside)
#   BASELINE_DIR/dgampi-0.2.symbols  the dgampi_ functions its library exported
# MODE
#   symbols                 every baseline symbol is still exported by LIBRARY;
#   layout OLD NEW          the layout programs (gen_layout.sh) compiled against
#                           the baseline (OLD) and the new header (NEW) print the
#                           same records and constants;
#   run LAUNCHER...         a consumer compiled against the baseline header
#                           runs against LIBRARY (LAUNCHER: mpiexec -n 2 prog).
# Every mode passes (and says so) when LIBRARY's soname differs from the
# baseline's: a new soname is how an ABI break is released. At such a release,
# replace the baseline:
#   cp include/dgampi.h c_tests/abi/dgampi-X.Y.h
#   nm -D --defined-only target/release/libdgampi.so | awk '$3 ~ /^dgampi_/ {print $3}' | sort > c_tests/abi/dgampi-X.Y.symbols
# and update BASELINE in c_tests/CMakeLists.txt.
set -u
mode=$1
dir=$2
lib=$3
shift 3
base=$(ls "$dir"/dgampi-*.h | head -n 1)
symbols=${base%.h}.symbols
want=$(sed -n 's/^#define DGAMPI_SONAME "\(.*\)"$/\1/p' "$base")
have=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ -n "$have" ] || have=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
if [ -z "$want" ] || [ -z "$have" ]; then
    echo "abi_check: cannot read the sonames (baseline '$want', library '$have')"
    exit 1
fi
if [ "$want" != "$have" ]; then
    echo "abi_check: $lib has soname $have, the baseline $(basename "$base") has $want: an ABI break is allowed (update the baseline)"
    exit 0
fi
tmp=${TMPDIR:-/tmp}/abi_check.$$
trap 'rm -f "$tmp".*' EXIT
case "$mode" in
symbols)
    nm -D --defined-only "$lib" | awk '{print $3}' | sort -u > "$tmp.exported"
    sort -u "$symbols" > "$tmp.baseline"
    missing=$(comm -23 "$tmp.baseline" "$tmp.exported")
    if [ -n "$missing" ]; then
        echo "abi_check: $lib ($have) no longer exports symbols of $(basename "$base"):" $missing
        exit 1
    fi
    echo "abi_check: all $(wc -l < "$tmp.baseline") symbols of $(basename "$base") are exported by $lib ($have)"
    ;;
layout)
    "$1" > "$tmp.old" || { echo "abi_check: $1 failed"; exit 1; }
    "$2" > "$tmp.new" || { echo "abi_check: $2 failed"; exit 1; }
    if ! diff "$tmp.old" "$tmp.new" > "$tmp.diff"; then
        echo "abi_check: records or constants of $(basename "$base") changed (soname still $have):"
        cat "$tmp.diff"
        exit 1
    fi
    echo "abi_check: $(wc -l < "$tmp.old") record fields and constants of $(basename "$base") unchanged"
    ;;
run)
    "$@"
    ;;
*)
    echo "abi_check: unknown mode $mode"
    exit 2
    ;;
esac
