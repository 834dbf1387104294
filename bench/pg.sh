#!/usr/bin/env bash
# Baton on the PostgreSQL store vs Terraform with its `pg` backend, on the same throwaway
# PostgreSQL server (started here: initdb/pg_ctl in a temporary directory, loopback only,
# stopped at exit), side by side: apply, a no-op plan and destroy of the same generated
# configuration (bench/gen.sh) at N resources.
#
#   bench/pg.sh [--baton PATH] [--n N] [--shapes LIST] [--reps R]
#
# Each rep applies into a fresh schema (Terraform: `schema_name` in its backend block, after
# `terraform init`; Baton: `--store URL?schema_name=…`). Times are the best of R reps.
set -euo pipefail
export LC_ALL=C
export TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-/dev/null}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
baton=$root/target/release/baton
n=1000
shapes=independent,count,layered
reps=3

while [ $# -gt 0 ]; do
  case "$1" in
    --baton) baton=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$baton" ] || (cd "$root" && cargo build --release -p baton >&2)
command -v terraform >/dev/null || { echo "terraform is not on PATH" >&2; exit 1; }

find_pg() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
}
initdb=$(find_pg initdb); pg_ctl=$(find_pg pg_ctl)
[ -n "$initdb" ] && [ -n "$pg_ctl" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

work=$(mktemp -d /tmp/baton-pgbench.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; as=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${as[@]}" "$pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as[@]}" "$initdb" -D "$work/data" -A trust -U baton -E UTF8 >/dev/null
"${as[@]}" "$pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
url="postgres://baton@127.0.0.1:$port/postgres?sslmode=disable"

now() { date +%s.%N; }
# Runs "$@" and prints its wall time in seconds; fails loudly.
timed() {
  local log=$1; shift
  local s e
  s=$(now)
  if ! "$@" >"$log" 2>&1; then echo "failed: $* (see $log)" >&2; tail -20 "$log" >&2; exit 1; fi
  e=$(now)
  echo "$e - $s" | bc -l
}
min() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }

printf '%-12s %-8s %10s %12s %8s\n' shape op baton_s terraform_s ratio
for shape in ${shapes//,/ }; do
  declare -A best_b=() best_t=()
  for r in $(seq "$reps"); do
    d=$work/$shape-$r
    mkdir -p "$d/baton" "$d/terraform"
    "$here/gen.sh" "$shape" "$n" "$d/baton" >/dev/null
    "$here/gen.sh" "$shape" "$n" "$d/terraform" >/dev/null
    cat > "$d/terraform/backend.tf" <<EOF
terraform {
  backend "pg" {
    conn_str    = "$url"
    schema_name = "tf_${shape}_$r"
  }
}
EOF
    (cd "$d/terraform" && terraform init -input=false -no-color >"$d/tf-init.log" 2>&1) \
      || { echo "terraform init failed (see $d/tf-init.log)" >&2; tail "$d/tf-init.log" >&2; exit 1; }
    store="postgres://baton@127.0.0.1:$port/postgres?sslmode=disable&schema_name=baton_${shape}_$r"
    for op in apply plan destroy; do
      case $op in
        apply)   bargs=(apply --auto-approve); targs=(apply -auto-approve -input=false -no-color) ;;
        plan)    bargs=(plan); targs=(plan -input=false -no-color) ;;
        destroy) bargs=(destroy --auto-approve); targs=(destroy -auto-approve -input=false -no-color) ;;
      esac
      tb=$(cd "$d/baton" && timed "$d/baton-$op.log" "$baton" --store "$store" "${bargs[@]}")
      tt=$(cd "$d/terraform" && timed "$d/tf-$op.log" terraform "${targs[@]}")
      best_b[$op]=$(min "${best_b[$op]:-}" "$tb")
      best_t[$op]=$(min "${best_t[$op]:-}" "$tt")
    done
  done
  for op in apply plan destroy; do
    printf '%-12s %-8s %10.3f %12.3f %7.1fx\n' "$shape" "$op" "${best_b[$op]}" "${best_t[$op]}" \
      "$(echo "${best_t[$op]} / ${best_b[$op]}" | bc -l)"
  done
  unset best_b best_t
done
echo
echo "N=$n, best of $reps; ratio = terraform time / baton time (higher: Baton faster). Both on one PostgreSQL $( "${as[@]}" "$(dirname "$pg_ctl")/postgres" --version | awk '{print $3}') server."
