#!/usr/bin/env bash
# Scaling out on workers: 400 independent workflow command steps of ~50 ms each (`sleep 0.05`),
# run by 1, 2, 4 and 8 `baton worker` processes (concurrency 1 each) sharing one PostgreSQL
# server that this script starts (a throwaway cluster: initdb/pg_ctl in a temporary directory,
# loopback only, stopped at exit). Prints each run's time and throughput, the speed-up over one
# worker, and the queue overhead per action at one worker.
#
#   bench/scale.sh [--baton PATH] [--steps N] [--sleep SECONDS] [--workers LIST] [--reps N]
#
# Targets (issue 12): at least 6x from 1 to 8 workers; queue overhead per action under 5 ms at
# one worker. The overhead is (time at 1 worker) / N minus the cost of one bare `sh -c "sleep
# 0.05"` measured here, so it counts everything Baton adds per step: submitting the task,
# waking and claiming on the worker, starting the command, recording the result, waking the
# run and journaling the step.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
baton=$root/target/release/baton
steps=400
sleep_s=0.05
workers_list="1,2,4,8"
reps=1

while [ $# -gt 0 ]; do
  case "$1" in
    --baton) baton=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --sleep) sleep_s=$2; shift 2 ;;
    --workers) workers_list=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ ! -x "$baton" ]; then
  echo "building $baton (cargo build --release -p baton)" >&2
  (cd "$root" && cargo build --release -p baton >&2)
fi

find_pg() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
}
initdb=$(find_pg initdb); pg_ctl=$(find_pg pg_ctl)
if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
  echo "PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2; exit 1
fi

work=$(mktemp -d /tmp/baton-scale.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; as=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  "${as[@]}" "$pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as[@]}" "$initdb" -D "$work/data" -A trust -U baton -E UTF8 --no-sync >/dev/null
"${as[@]}" "$pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
url="postgresql://baton@127.0.0.1:$port/postgres"

# A bare command's cost, to subtract.
t0=$(date +%s.%N)
for _ in $(seq 50); do sh -c "sleep $sleep_s"; done
t1=$(date +%s.%N)
bare=$(echo "($t1 - $t0) / 50" | bc -l)

dir=$work/wf
mkdir -p "$dir"
cat > "$dir/scale.baton.hcl" <<EOF
workflow "scale" {
  executor = "workers"
  step "work" {
    count   = $steps
    command = "sleep $sleep_s"
  }
}
EOF
chmod -R a+rwX "$work"

printf '%-8s %10s %14s %10s\n' workers seconds "steps/second" speed-up
first=""
for n in ${workers_list//,/ }; do
  best=""
  for r in $(seq "$reps"); do
    schema="scale_${n}_$r"
    store="$url?schema_name=$schema"
    pids=()
    for i in $(seq "$n"); do
      BATON_STORE=$store "$baton" --chdir "$dir" worker --concurrency 1 >"$work/worker-$n-$i.log" 2>&1 &
      pids+=($!)
    done
    # Wait until every worker is registered.
    for _ in $(seq 100); do
      c=$(BATON_STORE=$store "$baton" --chdir "$dir" workers --json 2>/dev/null | grep -c '"id"' || true)
      [ "$c" -ge "$n" ] && break
      sleep 0.1
    done
    rm -rf "$dir/.baton"
    s=$(date +%s.%N)
    BATON_STORE=$store "$baton" --chdir "$dir" workflow run scale --parallelism 64 >"$work/run-$n.log" 2>&1 \
      || { echo "run with $n workers failed:" >&2; tail -20 "$work/run-$n.log" >&2; exit 1; }
    e=$(date +%s.%N)
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  [ -z "$first" ] && first=$best
  printf '%-8s %10.2f %14.1f %9.2fx\n' "$n" "$best" "$(echo "$steps / $best" | bc -l)" "$(echo "$first / $best" | bc -l)"
  eval "time_$n=$best"
done

if [ -n "${time_1:-}" ]; then
  overhead=$(echo "($time_1 / $steps - $bare) * 1000" | bc -l)
  printf '\nbare command: %.1f ms; queue overhead per action at 1 worker: %.2f ms (target < 5 ms): %s\n' \
    "$(echo "$bare * 1000" | bc -l)" "$overhead" "$([ "$(echo "$overhead < 5" | bc -l)" = 1 ] && echo PASS || echo FAIL)"
fi
if [ -n "${time_1:-}" ] && [ -n "${time_8:-}" ]; then
  sp=$(echo "$time_1 / $time_8" | bc -l)
  printf 'speed-up from 1 to 8 workers: %.2fx (target >= 6x): %s\n' "$sp" "$([ "$(echo "$sp >= 6" | bc -l)" = 1 ] && echo PASS || echo FAIL)"
fi
