#!/usr/bin/env bash
# The agent's HTTP API under load (issue 15): `baton serve` on 127.0.0.1 while a 1,000-resource
# apply runs in the same stack (each resource's provisioner sleeps 50 ms, so the apply lasts a
# few seconds), with CLIENTS clients listing runs (`GET /api/v1/runs?limit=50`, a keep-alive
# connection each, back to back) and CLIENTS more following that apply's live events
# (`GET /api/v1/runs/{id}/events`, server-sent events). Prints the list requests' p50/p99
# latency and throughput, the events each follower received, and the agent's CPU over the
# window (utime + stime of its process, all threads, from /proc/PID/stat) as % of one core;
# then the time to serve one 10,000-node run (its detail with the graph) and its size.
#
#   bench/server.sh [--baton PATH] [--clients N] [--resources N]
#
# No peer runs here: Terraform has no server, and the issue compares against UIs (Dagster's,
# Prefect's) that are not installed on this machine; the figures stand alone. The load is
# bounded (it stops when the apply ends) and only touches 127.0.0.1. Needs python3.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
baton=$root/target/release/baton
clients=100
resources=1000

while [ $# -gt 0 ]; do
  case "$1" in
    --baton) baton=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --resources) resources=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$baton" ] || { echo "no $baton: cargo build --release -p baton first" >&2; exit 1; }

work=$(mktemp -d)
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
cat > main.tf <<TF
resource "terraform_data" "r" {
  count = $resources
  input = count.index
  provisioner "local-exec" {
    command = "sleep 0.05"
  }
}
TF
token=$("$baton" token create --role viewer --name bench 2>/dev/null | tail -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$baton" serve --listen "127.0.0.1:$port" --login-failures 1000000 --for 600s \
  >"$work/serve.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do
  grep -q "Serving the HTTP API" "$work/serve.log" 2>/dev/null && break
  sleep 0.1
done

echo "== $clients clients listing runs + $clients following a $resources-resource apply's events"
"$baton" apply --auto-approve >"$work/apply.log" 2>&1 &
apply_pid=$!
python3 - "$port" "$token" "$clients" "$agent_pid" "$apply_pid" <<'PY'
import http.client, json, os, sys, threading, time
port, token, n, agent, apply_pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
H = {"Authorization": "Bearer " + token}
tick = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / tick

def running():
    try:
        os.kill(apply_pid, 0)
        with open(f"/proc/{apply_pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

# The apply's run, once it is recorded.
run = None
deadline = time.time() + 60
while run is None and time.time() < deadline:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/api/v1/runs?status=running&kind=apply", headers=H)
    runs = json.loads(c.getresponse().read())["runs"]
    run = runs[0]["id"] if runs else None
    if run is None:
        time.sleep(0.05)
if run is None:
    sys.exit("the apply's run never showed up as running")

stop = threading.Event()
lat, errors, events = [], [0], []
lock = threading.Lock()

def lister():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mine = []
    while not stop.is_set():
        t = time.perf_counter()
        try:
            c.request("GET", "/api/v1/runs?limit=50", headers=H)
            r = c.getresponse(); r.read()
            if r.status != 200:
                with lock: errors[0] += 1
        except Exception:
            with lock: errors[0] += 1
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        mine.append(time.perf_counter() - t)
    with lock: lat.extend(mine)

def follower():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    got = 0
    try:
        c.request("GET", f"/api/v1/runs/{run}/events", headers=H)
        r = c.getresponse()
        while not stop.is_set():
            line = r.readline()
            if not line:
                break
            if line.startswith(b"event: run"):
                got += 1
    except Exception:
        with lock: errors[0] += 1
    with lock: events.append(got)

threads = [threading.Thread(target=lister) for _ in range(n)] + \
          [threading.Thread(target=follower, daemon=True) for _ in range(n)]
c0, t0 = cpu(agent), time.time()
for t in threads: t.start()
while running() and time.time() - t0 < 300:
    time.sleep(0.05)
stop.set()
c1, t1 = cpu(agent), time.time()
for t in threads[:n]: t.join()
time.sleep(0.5)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
window = t1 - t0
print(f"window           {window:.1f} s (the apply's duration under load)")
print(f"list requests    {len(lat)} ({len(lat)/window:.0f}/s), errors {errors[0]}")
print(f"list latency     p50 {q(0.50):.1f} ms   p99 {q(0.99):.1f} ms   max {lat[-1]*1000:.1f} ms")
print(f"event followers  {len(events)} finished, events each: min {min(events) if events else 0}, median {sorted(events)[len(events)//2] if events else 0}")
print(f"agent CPU        {100*(c1-c0)/window:.0f}% of one core over the window")
# The same requests as the agent timed them (its histogram): what the server took, without
# the load generator's own queueing (200 Python threads share one interpreter lock).
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("GET", "/metrics", headers=H)
text = c.getresponse().read().decode()
buckets = []
for line in text.splitlines():
    if line.startswith('baton_http_request_duration_seconds_bucket{') and 'route="/api/v1/runs"' in line and 'status="200"' in line:
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
buckets.sort()
total = buckets[-1][1] if buckets else 0
def server_q(p):
    for le, n in buckets:
        if n >= p * total:
            return le * 1000
    return float("nan")
print(f"server-side      p50 <= {server_q(0.5):.1f} ms   p99 <= {server_q(0.99):.1f} ms   ({int(total)} requests, histogram bucket bounds)")
PY
wait "$apply_pid" || { echo "the apply failed:"; tail -5 "$work/apply.log"; exit 1; }

echo "== one 10,000-node run, served whole"
cat > main.tf <<'TF'
resource "terraform_data" "n" {
  count = 10000
  input = count.index
}
TF
"$baton" apply --auto-approve >"$work/apply2.log" 2>&1
python3 - "$port" "$token" <<'PY'
import http.client, json, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
H = {"Authorization": "Bearer " + token}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request("GET", "/api/v1/runs?kind=apply&limit=1", headers=H)
run = json.loads(c.getresponse().read())["runs"][0]["id"]
times = []
for _ in range(5):
    t = time.perf_counter()
    c.request("GET", f"/api/v1/runs/{run}", headers=H)
    body = c.getresponse().read()
    times.append(time.perf_counter() - t)
d = json.loads(body)
times.sort()
print(f"nodes {len(d['graph']['nodes'])}, edges {len(d['graph']['edges'])}, {len(body)/1e6:.1f} MB, median {times[2]*1000:.0f} ms")
PY
