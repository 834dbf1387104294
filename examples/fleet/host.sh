#!/bin/sh
# A "host" for the fleet example: an OpenSSH server of its own on a loopback port, with its
# own host key and root directory (in a cloud this is the instance resource; the rest of the
# example does not change). Run by `shell_script.host` as `sh host.sh up|read|down`, with
# DIR, PORT and CLIENT_PUB in the environment; prints the host as JSON.
set -eu
d="$DIR"
say() {
  printf '{"address":"127.0.0.1","port":"%s","host_key":"%s","root":"%s"}\n' \
    "$PORT" "$(cut -d' ' -f1,2 "$d/host_key.pub")" "$d/root"
}
alive() { [ -f "$d/sshd.pid" ] && kill -0 "$(cat "$d/sshd.pid")" 2>/dev/null; }
case "$1" in
up)
  mkdir -p "$d/root" /run/sshd
  [ -f "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
  cp "$CLIENT_PUB" "$d/authorized_keys"
  cat > "$d/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
SetEnv SHLVL=1
CONF
  alive || /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log"
  i=0
  until alive && ssh-keyscan -p "$PORT" 127.0.0.1 >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 100 ] || { echo "sshd did not start: $(cat "$d/sshd.log")" >&2; exit 1; }
    sleep 0.1
  done
  say
  ;;
read) if alive; then say; fi ;;
down)
  if alive; then kill "$(cat "$d/sshd.pid")"; fi
  rm -rf "$d"
  ;;
esac
