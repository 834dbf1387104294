#!/usr/bin/env bash
# Baton's service supervisor side by side with supervisord on this machine (issue 14):
#
#  (1) restart latency: one supervised process listening on a 127.0.0.1 port is killed with
#      SIGKILL; the time until a replacement accepts a connection on the port (polled every
#      1 ms), N repetitions, median and p90;
#  (2) idle cost: 100 supervised `sleep` processes; the supervisor process's own CPU time
#      (utime + stime from /proc/PID/stat, all its threads) over a window, as % of one core,
#      and its RSS.
#
#   bench/services.sh [--supervise PATH] [--reps N] [--idle-services N] [--idle-secs S]
#
# Baton is measured as the library's loop, `Supervisor::run` with the exec driver, through the
# bench driver crates/baton-service/examples/supervise.rs (what `baton serve` will run; the
# binary does not run it yet). Both supervisors run the SAME command with the SAME fixed port
# (PORT in the environment): `sh -c 'exec socat TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork
# OPEN:/dev/null'`. Settings: supervisord autorestart=true, startsecs=0 (restarts at once);
# Baton restart { delay = 0 } (its backoff doubles 0, so every restart is immediate), no health
# checks. Targets: Baton restarts faster than supervisord; Baton idles under 1% of one core
# with 100 services. Needs supervisord (Debian: supervisor), socat, python3.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
supervise=$root/target/release/examples/supervise
reps=30
idle_n=100
idle_secs=20

while [ $# -gt 0 ]; do
  case "$1" in
    --supervise) supervise=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --idle-services) idle_n=$2; shift 2 ;;
    --idle-secs) idle_secs=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

for tool in supervisord socat python3; do
  command -v $tool >/dev/null || { echo "$tool is not installed (Debian: apt-get install supervisor socat python3)" >&2; exit 1; }
done
if [ ! -x "$supervise" ]; then
  echo "building $supervise" >&2
  (cd "$root" && cargo build --release -p baton-service --example supervise >&2)
fi

work=$(mktemp -d /tmp/baton-svcbench.XXXXXX)
cp "$supervise" "$work/supervise"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listen_cmd='exec socat TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork OPEN:/dev/null'

# start_supervisord DIR COUNT COMMAND [ENV]: COUNT programs svcN running COMMAND; prints its pid
start_supervisord() {
  local dir=$1 count=$2 cmd=$3 env=${4:-}
  mkdir -p "$dir/logs"
  {
    printf '[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s/logs\nloglevel=warn\n\n' "$dir" "$dir" "$dir"
    for i in $(seq 0 $((count - 1))); do
      printf '[program:svc%d]\ncommand=%s\nautostart=true\nautorestart=true\nstartsecs=0\nstopsignal=TERM\n' "$i" "$cmd"
      [ -n "$env" ] && printf 'environment=%s\n' "$env"
      printf '\n'
    done
  } > "$dir/supervisord.conf"
  supervisord -c "$dir/supervisord.conf" >"$dir/out.log" 2>&1 &
  echo $!
}

start_baton() {
  local dir=$1 count=$2; shift 2
  mkdir -p "$dir"
  "$work/supervise" --state "$dir" --services "$count" --restart-delay-ms 0 "$@" >"$dir/out.log" 2>&1 &
  echo $!
}

stop_pid() { kill -TERM "$1" 2>/dev/null || true; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }

# restart.py PORT REPS: kills the process listening on PORT (found by its command line)
# REPS times; prints one latency in ms per line.
cat > "$work/restart.py" <<'PY'
import os, signal, socket, subprocess, sys, time
port, reps = int(sys.argv[1]), int(sys.argv[2])
def accepts():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); return True
    except OSError:
        return False
    finally:
        s.close()
def leader():
    out = subprocess.run(["pgrep", "-o", "-f", f"TCP-LISTEN:{port},"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None
def dead(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True
deadline = time.monotonic() + 30
while not (accepts() and leader()):
    if time.monotonic() > deadline: sys.exit(f"nothing listened on port {port} within 30 s")
    time.sleep(0.05)
for _ in range(reps):
    time.sleep(0.3)  # settle: connections' children gone, the loop idle
    pid = leader()
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    while not dead(pid):
        pass
    while True:
        if accepts():
            break
        if time.perf_counter() - t0 > 20: sys.exit("no replacement within 20 s")
        time.sleep(0.001)
    t1 = time.perf_counter()
    new = leader()
    if new == pid: sys.exit("the old process still listens")
    print(f"{(t1 - t0) * 1000:.2f}", flush=True)
PY

# idle.py PID SECS: prints "cpu_percent_of_one_core rss_mb threads"
cat > "$work/idle.py" <<'PY'
import os, sys, time
pid, secs = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")
def cpu():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
t0, c0 = time.monotonic(), cpu()
time.sleep(secs)
t1, c1 = time.monotonic(), cpu()
status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
rss_kb = int(status["VmRSS"].split()[0]); threads = int(status["Threads"])
print(f"{(c1 - c0) / hz / (t1 - t0) * 100:.3f} {rss_kb / 1024:.1f} {threads}")
PY

count_children() { # processes whose parent is $1
  ps -o pid= --ppid "$1" | wc -l
}

stats() { sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.9+0.999)]; if (p=="") p=v[NR]; printf "%.2f %.2f %.2f %.2f\n", m, p, v[1], v[NR]}'; }

echo "# services bench: $(date -u +%FT%TZ), commit $(cd "$root" && git rev-parse --short HEAD) ($(cd "$root" && git status --porcelain -uno | wc -l) modified), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# supervisord $(supervisord --version), $(socat -V 2>/dev/null | sed -n 2p | cut -c1-40)"

# (1) restart latency
echo "# (1) restart latency, $reps SIGKILLs each"
declare -A med p90 lo hi
for who in supervisord baton; do
  port=$(free_port)
  dir=$work/restart-$who
  if [ $who = supervisord ]; then
    pid=$(start_supervisord "$dir" 1 "sh -c '$listen_cmd'" "PORT=\"$port\"")
  else
    pid=$(start_baton "$dir" 1 --env "PORT=$port" -- sh -c "$listen_cmd")
  fi
  pids+=("$pid")
  python3 "$work/restart.py" "$port" "$reps" > "$work/restart-$who.ms" || { echo "$who:" >&2; tail -n 5 "$dir"/*.log >&2; exit 1; }
  read -r med[$who] p90[$who] lo[$who] hi[$who] < <(stats < "$work/restart-$who.ms")
  stop_pid "$pid"
done

# (2) idle cost
echo "# (2) idle cost with $idle_n services (sleep 100000), ${idle_secs} s window after 5 s of steady state"
declare -A cpu rss thr kids
for who in supervisord baton; do
  dir=$work/idle-$who
  if [ $who = supervisord ]; then
    pid=$(start_supervisord "$dir" "$idle_n" "sleep 100000")
  else
    pid=$(start_baton "$dir" "$idle_n" -- sleep 100000)
  fi
  pids+=("$pid")
  for _ in $(seq 300); do [ "$(count_children "$pid")" -ge "$idle_n" ] && break; sleep 0.1; done
  kids[$who]=$(count_children "$pid")
  sleep 5
  read -r cpu[$who] rss[$who] thr[$who] < <(python3 "$work/idle.py" "$pid" "$idle_secs")
  stop_pid "$pid"
done

echo
printf '%-36s %12s %12s %10s\n' "measure" "baton" "supervisord" "ratio"
row() { printf '%-36s %12s %12s %10s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN{if (a>0 && b>0) printf "%.2fx", b/a; else print "-"}')"; }
row "restart median (ms)" "${med[baton]}" "${med[supervisord]}"
row "restart p90 (ms)" "${p90[baton]}" "${p90[supervisord]}"
printf '%-36s %12s %12s\n' "restart min..max (ms)" "${lo[baton]}..${hi[baton]}" "${lo[supervisord]}..${hi[supervisord]}"
row "idle CPU, % of one core" "${cpu[baton]}" "${cpu[supervisord]}"
row "idle RSS (MB)" "${rss[baton]}" "${rss[supervisord]}"
printf '%-36s %12s %12s\n' "supervisor threads" "${thr[baton]}" "${thr[supervisord]}"
printf '%-36s %12s %12s\n' "supervised processes found" "${kids[baton]}" "${kids[supervisord]}"
echo "(ratio = supervisord / baton: above 1 means Baton is faster or smaller)"
echo
if awk -v a="${med[baton]}" -v b="${med[supervisord]}" 'BEGIN{exit !(a<b)}'; then r=PASS; else r=FAIL; fi
echo "  $r  restart faster than supervisord: median ${med[baton]} ms vs ${med[supervisord]} ms (p90 ${p90[baton]} vs ${p90[supervisord]})"
if awk -v a="${cpu[baton]}" 'BEGIN{exit !(a<1)}'; then r=PASS; else r=FAIL; fi
echo "  $r  idle CPU under 1% of a core with $idle_n services: ${cpu[baton]}% (supervisord ${cpu[supervisord]}%)"
