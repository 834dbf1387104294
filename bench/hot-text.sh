#!/usr/bin/env bash
# Regenerate crates/baton/link/hot-text.ld: the functions Baton runs, laid out together.
#
#   bench/hot-text.sh [--baton PATH] [--out FILE] [--check]
#
# Why: the kernel maps a program's code into memory 64 KiB at a time around each page it
# runs, so code that runs scattered over the whole 8 MB .text makes most of .text resident.
# The `release-small` build (`cargo build --profile release-small -p baton --features small`;
# the default release build has no layout) places the functions listed in hot-text.ld first,
# in one block (crates/baton/build.rs passes it to the linker), so a command touches about the
# size of the code it runs, not the whole binary.
#
# How: runs a release-small build under valgrind's callgrind on typical commands (validate, plan,
# apply, a no-op plan with refresh, output, show, state list, a saved plan, destroy) over the
# benchmark's five shapes and the examples, collects every function that ran, and writes
# them for the linker, grouped by the first configuration and operation that runs them. Names
# have the compiler's default (legacy) mangling, which ends each name with a hash of its
# generic arguments and crate (the standard library's own instances are v0-mangled). Each is listed as it is, then once more with the hash as a
# wildcard, so a function whose hash changed (after a change to its crate, a dependency or
# the toolchain) still lands in the block, with the other instances of the same function.
# Rerun after large changes; `--check` prints how many of the functions that run are listed
# by name, without writing anything. The layout changes no behaviour, only which pages a
# command touches.
#
# Needs: valgrind, a release-small build (built if --baton is not given), bash, awk.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out=$root/crates/baton/link/hot-text.ld
baton=""
check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baton) baton=${2:?--baton needs a path}; shift 2 ;;
    --out) out=${2:?--out needs a file}; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hot-text.sh: unknown argument '$1'" >&2; exit 64 ;;
  esac
done
command -v valgrind >/dev/null || { echo "hot-text.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 69; }
if [[ -z $baton ]]; then
  (cd "$root" && cargo build --profile release-small -p baton --features small)
  baton=$root/target/release-small/baton
fi
baton=$(cd "$(dirname "$baton")" && pwd)/$(basename "$baton")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# profile OP NAME DIR ARGS...: one callgrind run of `$bin ARGS` in DIR, as operation OP of
# configuration NAME, into $profiles.
profile() {
  local op=$1 name=$2 dir=$3
  shift 3
  (cd "$dir" && valgrind --tool=callgrind --demangle=no --dump-instr=no \
      --callgrind-out-file="$profiles/$op@$name.cg" "$bin" "$@" >/dev/null 2>"$profiles/$op@$name.err") || true
}

# The configurations and operations, in the order their code is laid out: a function goes
# with the first (tier, operation, configuration) that runs it. The first tier holds the
# benchmark's simple shapes, so each of its operations (validate, plan, apply, no-op plan,
# destroy) on any of them runs a prefix of the block; what only larger configurations need
# (modules, the function library, provisioners) comes after.
tier1="independent layered count"
configs="$tier1 modules functions ex-quickstart ex-shell-git change"
ops="version validate plan-norefresh apply plan-noop destroy plan-json output show state-list plan-out show-plan change-plan change-apply fmt"

cycle() { # cycle NAME DIR: the commands the benchmark and the quick start run
  local name=$1 dir=$2
  profile validate "$name" "$dir" validate
  profile plan-norefresh "$name" "$dir" plan --refresh=false
  profile plan-json "$name" "$dir" plan --json --refresh=false
  profile apply "$name" "$dir" apply --auto-approve
  profile plan-noop "$name" "$dir" plan
  profile output "$name" "$dir" output --json
  profile show "$name" "$dir" show
  profile state-list "$name" "$dir" state list
  profile plan-out "$name" "$dir" plan --out plan.bin
  profile show-plan "$name" "$dir" show --json plan.bin
  profile destroy "$name" "$dir" destroy --auto-approve
}

# run_profiles BIN DIR: every profile of BIN, into DIR/profiles (configurations in DIR).
run_profiles() {
  bin=$1
  cfgs=$2
  profiles=$2/profiles
  mkdir -p "$profiles"
  for shape in independent count layered modules functions; do
    "$here/gen.sh" "$shape" 40 "$cfgs/$shape" >/dev/null
    cycle "$shape" "$cfgs/$shape"
  done
  for ex in quickstart shell-git; do
    if [[ -d $root/examples/$ex ]]; then
      mkdir -p "$cfgs/ex-$ex"
      cp -R "$root/examples/$ex/." "$cfgs/ex-$ex/"
      cycle "ex-$ex" "$cfgs/ex-$ex"
    fi
  done
  # A changed configuration: an update and a replace.
  "$here/gen.sh" layered 40 "$cfgs/change" >/dev/null
  (cd "$cfgs/change" && "$bin" apply --auto-approve >/dev/null 2>&1) || true
  sed -i 's/input = "l0_/input = "changed-l0_/' "$cfgs/change"/*.tf
  profile change-plan change "$cfgs/change" plan
  profile change-apply change "$cfgs/change" apply --auto-approve
  profile fmt change "$cfgs/change" fmt -check
  profile version change "$cfgs/change" --version

}

# ranked_names BIN DIR: every function of BIN that ran in the profiles of DIR, ordered by the
# first (configuration, operation) that ran it, then by the number of profiles it ran in.
ranked_names() {
  awk -v bin="$(basename "$1")" -v ops="$ops" -v configs="$configs" -v tier1="$tier1" '
  # "ob=(3) /path" or "ob=(3)": an id, and the name on its first use (the same for fn=).
  function id_of(line) { sub(/^c?[a-z]+=\(/, "", line); sub(/\).*$/, "", line); return line }
  function name_of(line,   p) { p = index(line, ") "); return p ? substr(line, p + 2) : "" }
  BEGIN {
    n_ops = split(ops, list, " "); for (i = 1; i <= n_ops; i++) op_rank[list[i]] = i
    n_configs = split(configs, list, " "); for (i = 1; i <= n_configs; i++) config_rank[list[i]] = i
    n_tier1 = split(tier1, list, " "); for (i = 1; i <= n_tier1; i++) in_tier1[list[i]] = 1
  }
  FNR == 1 {
    split("", obn); split("", fnn); cur = ""; file++
    op = FILENAME; sub(/^.*\//, "", op); config = op; sub(/@.*$/, "", op)
    sub(/^[^@]*@/, "", config); sub(/\.cg$/, "", config)
    c = (config in config_rank) ? config_rank[config] : n_configs + 1
    o = (op in op_rank) ? op_rank[op] : n_ops + 1
    # tier 1: operation, then configuration; later: configuration, then operation.
    r = (config in in_tier1) ? o * (n_configs + 1) + c \
                             : (n_ops + 2) * (n_configs + 1) + c * (n_ops + 1) + o
  }
  /^c?ob=/ {
    id = id_of($0); n = name_of($0)
    if (n != "") obn[id] = n
    if ($0 ~ /^ob=/) cur = obn[id]
    next
  }
  /^c?fn=/ {
    id = id_of($0); n = name_of($0)
    if (n != "") fnn[id] = n
    # Valgrind names the object "???" for code outside .text (the hot block itself).
    if ($0 ~ /^fn=/ && (cur == "???" || substr(cur, length(cur) - length(bin)) == "/" bin)) {
      name = fnn[id]
      sub(/'"'"'[0-9]+$/, "", name)
      if (name ~ /^0x/ || name ~ /^\(/) next
      if (!((name SUBSEP file) in seen)) {
        seen[name, file] = 1; count[name]++
        if (!(name in first) || r < first[name]) first[name] = r
      }
    }
    next
  }
  END { for (n in count) printf "%d\t%d\t%s\n", first[n], count[n], n }
' "$2"/profiles/*.cg | sort -t $'\t' -k1,1n -k2,2nr -k3,3 | cut -f3
}

mkdir -p "$work/run"
run_profiles "$baton" "$work/run"
ranked_names "$baton" "$work/run" >"$work/names"
[[ -s $work/names ]] || { echo "hot-text.sh: no profile recorded a function; see $work/run/profiles/*.err" >&2; exit 1; }
# The same names as patterns that survive a rebuild: hashes, the crate disambiguators of v0
# names (the standard library's own instances are v0-mangled) and LLVM's promoted-local
# suffixes become wildcards. They follow the exact names, so a function whose name changed
# still lands in the block (after the exact ones, with other instances of the same generic
# function).
sed -E \
    -e 's/17h[0-9a-f]{16}E$/17h*E/' \
    -e '/^_R/ s/Cs[0-9A-Za-z]+_/Cs*_/g' \
    -e 's/\.llvm\.[0-9]+$/.llvm.*/' \
    "$work/names" | grep -F '*' | awk '!seen[$0]++' >"$work/patterns" || true

if (( check )); then
  listed=$(grep -o '^    \*(\.text\.[^ )]*' "$out" 2>/dev/null | sed 's/^    \*(\.text\.\*\{0,1\}//' | sort -u || true)
  covered=$(comm -12 <(echo "$listed") <(sort -u "$work/names") | grep -c . || true)
  echo "hot-text.sh: $covered of $(wc -l <"$work/names") functions that ran are listed by name in $out"
  exit 0
fi

mkdir -p "$(dirname "$out")"
{
  echo "/* Generated by bench/hot-text.sh from profiles of typical commands: the functions Baton"
  echo "   runs, grouped by the first configuration and operation that runs them, placed in one"
  echo "   block at the start of the code; then the same names with hashes as wildcards. Used by"
  echo "   the release-small build only; see crates/baton/build.rs. Regenerate with bench/hot-text.sh; do not edit. */"
  echo "SECTIONS"
  echo "{"
  echo "  .text.hot :"
  echo "  {"
  # Cold functions are in .text.unlikely.NAME. A mangled Rust name cannot end another name,
  # so `.text.*NAME` takes both; a C name is spelled out twice.
  cat "$work/names" "$work/patterns" | while IFS= read -r p; do
    case "$p" in
      _ZN*|_R*) printf '    *(.text.*%s)\n' "$p" ;;
      *) printf '    *(.text.%s .text.unlikely.%s)\n' "$p" "$p" ;;
    esac
  done
  echo "  }"
  echo "}"
  echo "INSERT BEFORE .text;"
} >"$out"
echo "hot-text.sh: wrote $(wc -l <"$work/names") names and $(wc -l <"$work/patterns") patterns to $out"
