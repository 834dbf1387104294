#!/usr/bin/env bash
# Check that the default release build is plain: a position-independent executable (ELF type
# DYN), linked without the code layout of the opt-in `release-small` build.
#
#   bench/check-pie.sh [--no-build] [--baton PATH]
#
# Builds `cargo build --release -p baton` (unless --no-build or --baton), then reads the ELF
# header with `readelf -h`. Exits 1 if the binary is not position-independent or has the
# `.text.hot` section of crates/baton/link/hot-text.ld. Not part of CI: a release build takes
# minutes on a small machine. Needs readelf (binutils).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
baton=$root/target/release/baton
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --baton) baton=${2:?--baton needs a path}; build=0; shift 2 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-pie.sh: unknown argument '$1'" >&2; exit 64 ;;
  esac
done
command -v readelf >/dev/null || { echo "check-pie.sh: readelf is needed (binutils)" >&2; exit 69; }
if (( build )); then
  (cd "$root" && cargo build --release -p baton)
fi
[[ -x $baton ]] || { echo "check-pie.sh: $baton not found" >&2; exit 1; }

type=$(readelf -h "$baton" | awk -F: '/^ *Type:/ { sub(/^ +/, "", $2); print $2 }')
echo "check-pie.sh: $baton: Type: $type"
status=0
if [[ $type != DYN* ]]; then
  echo "check-pie.sh: not a position-independent executable (expected Type: DYN)" >&2
  status=1
fi
if readelf -S -W "$baton" | grep -q '\.text\.hot'; then
  echo "check-pie.sh: linked with the code layout (.text.hot), which is for release-small only" >&2
  status=1
fi
exit $status
