#!/usr/bin/env bash
# Configuration management over SSH: Baton's `remote_file` vs `ansible-playbook`'s
# `ansible.builtin.copy` vs a raw floor (one `ssh` session per host running one shell script),
# all writing the same files (same paths, content, mode 0644) to real `sshd` hosts that this
# script starts (10 sshd processes on 127.0.0.1 ports, each with its own host key, one shared
# client key authorized on all; every host's files under its own directory; all stopped and
# removed at exit).
#
#   bench/config.sh [--baton PATH] [--reps N] [--ansible-reps N] [--cases LIST]
#   (--ansible-reps 0 measures Baton and the raw floor only: Ansible takes minutes a run)
#
# Case A: 200 files on one host. Case B: 20 files on each of 10 hosts. Each contestant runs
# twice per rep: a first run (files absent) and an unchanged re-run (nothing to change).
#   Baton:   generated configuration (`remote_file`, `for_each` over a local map, host key
#            pinned), `baton apply --auto-approve` twice, in a fresh directory (.baton/) per rep.
#   Ansible: generated inventory + playbook (one copy task with `loop`), `ansible-playbook`
#            twice, with ANSIBLE_PIPELINING=True, its default ControlMaster/ControlPersist=60s
#            (a fresh control socket directory per rep: the first run connects cold, the re-run
#            reuses the masters), forks 10, no fact gathering.
#   Raw:     one `ssh` per host (in parallel) running a script: heredocs written to temporary
#            siblings, chmod, mv; the re-run is one `sha256sum -c` per host that writes nothing.
# Times are the best of --reps (default 3); Ansible's of --ansible-reps (default: same as --reps).
#
# Targets (issue 13): Baton at least 100x faster than Ansible on both runs; Baton within 3x
# of the raw floor.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
baton=$root/target/release/baton
reps=3
areps=""
cases="A,B"
venv=$HOME/.cache/baton-tests/ansible-venv

while [ $# -gt 0 ]; do
  case "$1" in
    --baton) baton=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --ansible-reps) areps=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
areps=${areps:-$reps}

if [ ! -x "$baton" ]; then
  echo "building $baton (cargo build --release -p baton)" >&2
  (cd "$root" && cargo build --release -p baton >&2)
fi
sshd_bin=/usr/sbin/sshd
[ -x "$sshd_bin" ] || { echo "$sshd_bin not found (Debian: apt-get install openssh-server)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root: the test sshd servers log in as root" >&2; exit 1; }
if [ ! -x "$venv/bin/ansible-playbook" ]; then
  echo "making $venv (python3 -m venv; pip install ansible-core)" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q ansible-core >&2
fi
mkdir -p /run/sshd

work=$(mktemp -d /tmp/baton-cfgbench.XXXXXX)
sshd_pids=()
cleanup() {
  # Ansible's ControlPersist masters, then the servers (and their session children).
  for s in "$work"/cp*/*; do [ -S "$s" ] && ssh -O exit -o ControlPath="$s" x >/dev/null 2>&1 || true; done
  for p in "${sshd_pids[@]:-}"; do
    [ -n "$p" ] || continue
    pkill -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  for p in "${sshd_pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- hosts -------------------------------------------------------------------------------
nhosts=10
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
: > "$work/known_hosts"
for h in $(seq 0 $((nhosts - 1))); do
  d=$work/sshd$h
  mkdir -p "$d" "$work/host$h"
  ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
  cp "$work/client_key.pub" "$d/authorized_keys"
  ok=""
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    # SetEnv SHLVL=1: Debian's bash skips ~/.bashrc for the sessions' login shells, so every
    # contestant's sessions start as on a server, not with the benchmarking user's rc files.
    cat > "$d/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxStartups 100
MaxSessions 100
LogLevel ERROR
SetEnv SHLVL=1
EOF
    : > "$d/sshd.log"
    "$sshd_bin" -D -e -f "$d/sshd_config" </dev/null >/dev/null 2>>"$d/sshd.log" &
    pid=$!
    for _ in $(seq 100); do
      if ssh-keyscan -p "$port" -t ed25519 127.0.0.1 >/dev/null 2>&1; then ok=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if [ -n "$ok" ]; then sshd_pids+=("$pid"); break; fi
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  [ -n "$ok" ] || { echo "sshd $h did not start:" >&2; cat "$d/sshd.log" >&2; exit 1; }
  eval "port_$h=$port"
  eval "hostkey_$h=\"$(cut -d' ' -f1,2 "$d/host_key.pub")\""
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >> "$work/known_hosts"
done
sshopts=(-i "$work/client_key" -o UserKnownHostsFile="$work/known_hosts" -o StrictHostKeyChecking=yes
  -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o LogLevel=ERROR)

# --- files -------------------------------------------------------------------------------
# content(h, i): a ~300-byte file, no `$`, quotes or backslashes (the same text in HCL, YAML
# and a quoted heredoc).
content() {
  printf '# managed file %03d on host%d\n' "$2" "$1"
  printf 'name = host%d-file%03d\n' "$1" "$2"
  for l in 1 2 3 4 5 6; do printf 'option_%d = value %d for host %d, file %d\n' "$l" $(( ($1 * 7 + $2 * 13 + l) % 97 )) "$1" "$2"; done
}
# As a JSON string (also an HCL and a YAML double-quoted string): only newlines to escape.
esc_json() { printf '"%s"' "$(awk '{printf "%s\\n", $0}')"; }

# gen CASE NHOSTS NFILES: makes $work/case-CASE/{ref,baton,ansible,raw} inputs.
gen() {
  local c=$1 nh=$2 nf=$3 g=$work/case-$1
  mkdir -p "$g/ref" "$g/baton" "$g/ansible/host_vars" "$g/raw"
  {
    echo 'locals {'
    echo '  files = {'
  } > "$g/baton/main.tf"
  printf '[fleet]\n' > "$g/ansible/inventory"
  for h in $(seq 0 $((nh - 1))); do
    local port hk
    port=$(eval echo "\$port_$h"); hk=$(eval echo "\$hostkey_$h")
    mkdir -p "$g/ref/host$h"
    printf 'host%d ansible_host=127.0.0.1 ansible_port=%s ansible_user=root ansible_ssh_private_key_file=%s ansible_ssh_common_args='"'"'-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'"'"' ansible_python_interpreter=/usr/bin/python3\n' \
      "$h" "$port" "$work/client_key" "$work/known_hosts" >> "$g/ansible/inventory"
    echo 'files:' > "$g/ansible/host_vars/host$h.yml"
    : > "$g/raw/write-$h.sh"
    : > "$g/raw/sums-$h"
    for i in $(seq 0 $((nf - 1))); do
      local f path text
      f=$(printf 'f%03d.conf' "$i")
      path=$work/host$h/etc/$f
      content "$h" "$i" > "$g/ref/host$h/$f"
      text=$(esc_json < "$g/ref/host$h/$f")
      printf '    "h%d-%s" = { port = %s, host_key = "%s", path = "%s", content = %s }\n' \
        "$h" "$f" "$port" "$hk" "$path" "$text" >> "$g/baton/main.tf"
      printf '  - dest: %s\n    content: %s\n' "$path" "$text" >> "$g/ansible/host_vars/host$h.yml"
      { printf "cat > '%s.tmp' <<'BATON_EOF'\n" "$path"; cat "$g/ref/host$h/$f"; printf 'BATON_EOF\n'
        printf "chmod 0644 '%s.tmp' && mv '%s.tmp' '%s'\n" "$path" "$path" "$path"; } >> "$g/raw/write-$h.sh"
      printf '%s  %s\n' "$(sha256sum < "$g/ref/host$h/$f" | cut -d' ' -f1)" "$path" >> "$g/raw/sums-$h"
    done
    { printf "set -e\nmkdir -p '%s/host%d/etc'\n" "$work" "$h"; cat "$g/raw/write-$h.sh"; } > "$g/raw/write-$h.tmp"
    mv "$g/raw/write-$h.tmp" "$g/raw/write-$h.sh"
    { printf "sha256sum -c --quiet <<'BATON_EOF'\n"; cat "$g/raw/sums-$h"; printf 'BATON_EOF\n'; } > "$g/raw/check-$h.sh"
  done
  cat >> "$g/baton/main.tf" <<EOF
  }
}

resource "remote_file" "f" {
  for_each = local.files

  connection {
    host             = "127.0.0.1"
    port             = each.value.port
    user             = "root"
    private_key_file = "$work/client_key"
    host_key         = each.value.host_key
  }

  path    = each.value.path
  content = each.value.content
  mode    = "0644"
}
EOF
  cat > "$g/ansible/play.yml" <<'EOF'
- hosts: fleet
  gather_facts: false
  tasks:
    - name: files
      ansible.builtin.copy:
        dest: "{{ item.dest }}"
        content: "{{ item.content }}"
        mode: "0644"
      loop: "{{ files }}"
      loop_control:
        label: "{{ item.dest }}"
EOF
  eval "nh_$c=$nh"
}

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
min() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
fail() { echo "$1" >&2; [ -n "${2:-}" ] && tail -30 "$2" >&2; exit 1; }

# clear NH: empties every host's directory (every first run starts from absent files in an
# existing directory: ansible.builtin.copy does not make parent directories).
clear_hosts() { for h in $(seq 0 $(($1 - 1))); do rm -rf "$work/host$h/etc"; mkdir -p "$work/host$h/etc"; done; }
# verify CASE NH: the hosts hold exactly the reference files, mode 0644.
verify() {
  for h in $(seq 0 $(($2 - 1))); do
    diff -r "$work/case-$1/ref/host$h" "$work/host$h/etc" >/dev/null || fail "case $1: host$h's files differ from the reference"
    [ -z "$(find "$work/host$h/etc" -type f ! -perm 0644)" ] || fail "case $1: host$h has a file not 0644"
  done
}

run_baton() { # CASE REP -> sets t1 t2
  local c=$1 nh d log
  nh=$(eval echo "\$nh_$c")
  d=$work/run-baton-$c-$2; log=$d.log
  rm -rf "$d"; cp -a "$work/case-$c/baton" "$d"
  clear_hosts "$nh"
  local s e
  s=$(now); "$baton" --chdir "$d" apply --auto-approve >"$log" 2>&1 || fail "baton apply (case $c) failed" "$log"; e=$(now)
  t1=$(elapsed "$s" "$e")
  verify "$c" "$nh"
  s=$(now); "$baton" --chdir "$d" apply --auto-approve >"$log.2" 2>&1 || fail "baton re-apply (case $c) failed" "$log.2"; e=$(now)
  t2=$(elapsed "$s" "$e")
  grep -q 'No changes' "$log.2" || fail "baton re-apply (case $c) was not a no-op" "$log.2"
}

run_ansible() { # CASE REP -> sets t1 t2
  local c=$1 nh d log cp
  nh=$(eval echo "\$nh_$c")
  d=$work/case-$c/ansible; log=$work/run-ansible-$c-$2.log
  cp=$work/cp-$c-$2; mkdir -p "$cp"; : > "$work/ansible.cfg"
  clear_hosts "$nh"
  export ANSIBLE_PIPELINING=True ANSIBLE_FORKS=10 ANSIBLE_SSH_CONTROL_PATH_DIR=$cp \
    ANSIBLE_HOME=$work/ansible-home ANSIBLE_LOCAL_TEMP=$work/ansible-tmp ANSIBLE_RETRY_FILES_ENABLED=False \
    ANSIBLE_CONFIG=$work/ansible.cfg PYTHONWARNINGS=ignore LC_ALL=C.UTF-8
  local s e
  s=$(now); "$venv/bin/ansible-playbook" -i "$d/inventory" "$d/play.yml" >"$log" 2>&1 || fail "ansible-playbook (case $c) failed" "$log"; e=$(now)
  t1=$(elapsed "$s" "$e")
  verify "$c" "$nh"
  s=$(now); "$venv/bin/ansible-playbook" -i "$d/inventory" "$d/play.yml" >"$log.2" 2>&1 || fail "ansible-playbook re-run (case $c) failed" "$log.2"; e=$(now)
  t2=$(elapsed "$s" "$e")
  grep -q 'changed=[1-9]' "$log.2" && fail "ansible re-run (case $c) changed something" "$log.2"
  for sock in "$cp"/*; do [ -S "$sock" ] && ssh -O exit -o ControlPath="$sock" x >/dev/null 2>&1 || true; done
}

run_raw() { # CASE REP -> sets t1 t2
  local c=$1 nh g pids=() h
  nh=$(eval echo "\$nh_$c"); g=$work/case-$c/raw
  clear_hosts "$nh"
  local s e
  s=$(now)
  for h in $(seq 0 $((nh - 1))); do
    ssh "${sshopts[@]}" -p "$(eval echo "\$port_$h")" root@127.0.0.1 sh -s < "$g/write-$h.sh" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "raw write (case $c) failed"; done
  e=$(now); t1=$(elapsed "$s" "$e")
  verify "$c" "$nh"
  pids=()
  s=$(now)
  for h in $(seq 0 $((nh - 1))); do
    ssh "${sshopts[@]}" -p "$(eval echo "\$port_$h")" root@127.0.0.1 sh -s < "$g/check-$h.sh" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "raw check (case $c) found a difference"; done
  e=$(now); t2=$(elapsed "$s" "$e")
}

for c in ${cases//,/ }; do
  case "$c" in
    A) gen A 1 200 ;;
    B) gen B 10 20 ;;
    *) fail "unknown case $c (A or B)" ;;
  esac
done

printf '%-22s %-8s %9s %10s %8s %14s %10s\n' case run "baton s" "ansible s" "raw s" "ansible/baton" "baton/raw"
verdict_speed=PASS; verdict_floor=PASS
for c in ${cases//,/ }; do
  b1=""; b2=""; a1=""; a2=""; r1=""; r2=""
  for r in $(seq "$reps"); do
    run_baton "$c" "$r"; b1=$(min "$b1" "$t1"); b2=$(min "$b2" "$t2")
    run_raw "$c" "$r"; r1=$(min "$r1" "$t1"); r2=$(min "$r2" "$t2")
  done
  for r in $(seq "$areps"); do
    run_ansible "$c" "$r"; a1=$(min "$a1" "$t1"); a2=$(min "$a2" "$t2")
  done
  [ "$c" = A ] && label="A: 200 files x 1 host" || label="B: 20 files x 10 hosts"
  for run in first re-run; do
    if [ "$run" = first ]; then b=$b1; a=$a1; rw=$r1; else b=$b2; a=$a2; rw=$r2; fi
    br=$(echo "$b / $rw" | bc -l)
    if [ -z "$a" ]; then
      # --ansible-reps 0: Baton and the raw floor only.
      printf '%-22s %-8s %9.3f %10s %8.3f %14s %9.2fx\n' "$label" "$run" "$b" - "$rw" - "$br"
      verdict_speed="not measured (--ansible-reps 0)"
      [ "$(echo "$br <= 3" | bc -l)" = 1 ] || verdict_floor=FAIL
      continue
    fi
    ab=$(echo "$a / $b" | bc -l)
    printf '%-22s %-8s %9.3f %10.2f %8.3f %13.1fx %9.2fx\n' "$label" "$run" "$b" "$a" "$rw" "$ab" "$br"
    [ "$(echo "$ab >= 100" | bc -l)" = 1 ] || verdict_speed=FAIL
    [ "$(echo "$br <= 3" | bc -l)" = 1 ] || verdict_floor=FAIL
    eval "ab_${c}_${run//-/}=$ab br_${c}_${run//-/}=$br"
  done
done
echo
echo "best of $reps (Baton, raw), $areps (Ansible: pipelining on, ControlPersist 60s, forks 10)"
echo "Baton >= 100x faster than Ansible on both runs: $verdict_speed"
echo "Baton within 3x of the raw floor: $verdict_floor"
