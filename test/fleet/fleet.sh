#!/usr/bin/env bash
# A fleet of fake "web servers" on loopback for integration tests. Needs root, openssh-server,
# util-linux (unshare, nsenter) and node.
#
# Host i is named web<i> and listens on $FLEET_NET.i (ssh on 22, http on 8080). The whole of
# 127.0.0.0/8 routes to `lo` on Linux, so these addresses need no setup. Each host's sshd runs in
# its own mount namespace, where
#   /data  is $FLEET_DIR/hosts/web<i>/data  (what the deploy tool writes to)
#   /root  is $FLEET_DIR/hosts/web<i>/home  (a clean home: only .ssh/authorized_keys)
# so hosts cannot see each other's files, just like separate machines.
#
# usage: fleet.sh up N | down | hosts | stop NAME | start NAME | freeze NAME | thaw NAME | rekey NAME
# env:   FLEET_DIR (default /tmp/slipway-fleet), FLEET_NET (default 127.0.1, used by `up`),
#        FLEET_CLEAN=1 (`down` also removes the hosts' dirs), FLEET_TIMEOUT (seconds, default 10)
#
# Files in $FLEET_DIR:
#   clientkey, clientkey.pub    the one key that logs in as root on every host
#   known_hosts                 "addr keytype base64" per host, as trusted at the last `up`
#   hosts.list                  "name addr" per host (`fleet.sh hosts` prints it); it cannot be
#                               called `hosts` because that is the directory below
#   hosts/web<i>/{data,home,sshd_config,ssh_host_ed25519_key}
#   web<i>.pid, web<i>.log                sshd listener pid and log
#   web<i>.http.pid, web<i>.http.log      http server pid and log
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
F=${FLEET_DIR:-/tmp/slipway-fleet}
case $F in /*) ;; *) F=$PWD/$F ;; esac
NET=${FLEET_NET:-127.0.1}
TIMEOUT=${FLEET_TIMEOUT:-10}
SSHD=/usr/sbin/sshd
FLEET_TOOL=fleet.sh
# shellcheck source-path=SCRIPTDIR source=fleet-common.sh
. "$HERE/fleet-common.sh"
HTTP_PORT=8080
HOSTS_LIST=$F/hosts.list

# Inside a host, /root and /data are mounted over: sshd (which reads its config and keys after
# the mounts) and the http server would find nothing of ours under those paths.
# The http server is copied into $F for the same reason, so the repo itself may live under /root.
case $F/ in /root/* | /data/*) die "$F is under /root or /data, which every host mounts over" ;; esac

# Print the pid in a pid file if that process is alive and its command line mentions $2,
# so that a stale pid file whose pid was reused never makes us signal a stranger.
pid_from() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}

sshd_pid() { pid_from "$F/$1.pid" "$(hostdir "$1")/sshd_config"; }
http_pid() { pid_from "$F/$1.http.pid" "$F/$1.http.pid"; }

# Every process that belongs to host NAME: those whose /data is that host's data dir.
# /proc/PID/root resolves paths in PID's own mount namespace, so this finds the sshd listener,
# its session children, whatever they run and the http server, even after the listener died
# and its children were re-parented; a parent-chain walk would miss those.
host_pids() {
  local data ref
  data=$(hostdir "$1")/data
  ref=$(stat -c %d:%i "$data" 2>/dev/null) || return 0
  { stat -L -c '%d:%i %n' /proc/[0-9]*/root/data 2>/dev/null || true; } |
    awk -v ref="$ref" '$1 == ref { split($2, p, "/"); print p[3] }'
}

# The host's sshd processes: all of its processes but the http server.
sshd_pids() {
  local http
  http=$(http_pid "$1" || true)
  host_pids "$1" | { grep -vx -- "${http:-none}" || true; }
}

stop_sshd() {
  local listener pids
  # The listener first, so that it forks no new session while we kill the others.
  listener=$(sshd_pid "$1" || true)
  [ -z "$listener" ] || terminate "$listener"
  # A real sshd leaves its sessions running on stop; we end them too, so that "host went down"
  # also cuts the deploy tool's open connections to it.
  for _ in 1 2 3; do
    pids=$(sshd_pids "$1")
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    terminate $pids
  done
  rm -f "$F/$1.pid"
}

# Start host NAME's sshd in a fresh mount namespace. Private propagation matters: if / is a
# shared mount (systemd makes it so), the bind mounts would otherwise propagate back to the
# host and to every other fleet host. sshd daemonizes itself, and its daemon stays in the
# namespace, which lives as long as any process in it.
launch_sshd() {
  local d
  d=$(hostdir "$1")
  rm -f "$F/$1.pid"
  # shellcheck disable=SC2016  # expanded by the inner sh, from its arguments
  unshare -m --propagation private sh -c \
    'mount --bind "$1" /data && mount --bind "$2" /root && exec "$3" -f "$4" -E "$5"' \
    fleet-ns "$d/data" "$d/home" "$SSHD" "$d/sshd_config" "$F/$1.log" </dev/null
}

# The http server joins the namespace of the host's sshd, so that it sees the host's /data.
# Its stdio go to a log file: an inherited pipe would keep a caller such as execa waiting.
launch_http() {
  local pid addr
  pid=$(sshd_pid "$1") || die "$1: sshd is not running, cannot start its http server"
  addr=$(addr_of "$1")
  rm -f "$F/$1.http.pid"
  # env -i: a daemon should not inherit the caller's NODE_OPTIONS, test-runner variables etc.
  nsenter -t "$pid" -m -- env -i PATH=/usr/local/bin:/usr/bin:/bin \
    "$NODE" "$F/http-server.mjs" --host "$addr" --port "$HTTP_PORT" --name "$1" \
    --pidfile "$F/$1.http.pid" </dev/null >>"$F/$1.http.log" 2>&1 &
}

# shellcheck disable=SC2016  # $0 and $1 are the inner bash's arguments, as meant
can_connect() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# Wait, until $DEADLINE (in $SECONDS), for a pid file to appear and a port to accept TCP.
wait_ready() { # name what pidfile addr port log
  until [ -s "$3" ] && can_connect "$4" "$5"; do
    if [ "$SECONDS" -ge "$DEADLINE" ]; then
      say "$1: $2 not accepting connections on $4:$5 after ${TIMEOUT}s; last lines of $6:"
      tail -n 5 "$6" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
}

cmd_up() {
  local n=${1:-} i name addr d conf changed=()
  if ! { [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 254 ]; }; then die "usage: fleet.sh up N (1..254)"; fi
  [[ $NET =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "FLEET_NET must be three octets in 127/8, like 127.0.1 (got '$NET')"
  [ -x "$SSHD" ] || die "$SSHD not found: install openssh-server"
  NODE=$(command -v node) || die "node not found"
  mkdir -p "$F" && cp "$HERE/http-server.mjs" "$F/http-server.mjs"
  case $NODE/ in /root/*) die "node ($NODE) is under /root, which every host mounts over" ;; esac

  # /run/sshd is sshd's privilege-separation dir; /data must exist as a mount point.
  mkdir -p "$F/hosts" /run/sshd /data
  [ -f "$F/clientkey" ] || ssh-keygen -q -t ed25519 -N '' -C fleet-client -f "$F/clientkey"

  : >"$F/known_hosts.new"
  : >"$HOSTS_LIST.new"
  for i in $(seq 1 "$n"); do
    name=web$i addr=$NET.$i d=$(hostdir "web$i")
    mkdir -p "$d/data" "$d/home/.ssh"
    # Each host its own key, kept across runs: known_hosts must be able to tell hosts apart.
    [ -f "$d/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$d/ssh_host_ed25519_key"
    cp "$F/clientkey.pub" "$d/home/.ssh/authorized_keys"
    conf=$d/sshd_config
    write_sshd_config "$name" "$addr" "$conf.new"
    # A running sshd with another config (say FLEET_NET changed) must be restarted.
    if ! cmp -s "$conf.new" "$conf" 2>/dev/null; then changed+=("$name"); fi
    mv "$conf.new" "$conf"
    echo "$addr $(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" >>"$F/known_hosts.new"
    echo "$name $addr" >>"$HOSTS_LIST.new"
  done
  # known_hosts is rebuilt from the keys on disk: an `up` re-trusts hosts that were `rekey`ed.
  mv "$F/known_hosts.new" "$F/known_hosts"
  mv "$HOSTS_LIST.new" "$HOSTS_LIST"

  for i in $(seq 1 "$n"); do
    name=web$i
    if sshd_pid "$name" >/dev/null; then
      [[ " ${changed[*]} " == *" $name "* ]] || continue
      # Its http server may listen on the old address too: restart the whole host.
      say "$name: config changed, restarting it"
      # shellcheck disable=SC2046
      terminate $(host_pids "$name")
    fi
    "$SSHD" -t -f "$(hostdir "$name")/sshd_config" || die "$name: sshd rejects its config"
    # A bind failure shows up later, in the wait below: sshd binds after it has daemonized.
    launch_sshd "$name" || die "$name: sshd failed to start; see $F/$name.log"
  done

  DEADLINE=$((SECONDS + TIMEOUT))
  for i in $(seq 1 "$n"); do
    name=web$i addr=$NET.$i
    wait_ready "$name" sshd "$F/$name.pid" "$addr" 22 "$F/$name.log"
    http_pid "$name" >/dev/null || launch_http "$name"
  done
  for i in $(seq 1 "$n"); do
    name=web$i addr=$NET.$i
    wait_ready "$name" "http server" "$F/$name.http.pid" "$addr" "$HTTP_PORT" "$F/$name.http.log"
  done
  echo "fleet up: $n hosts in $F (key $F/clientkey, known_hosts $F/known_hosts, list $HOSTS_LIST)"
}

cmd_down() {
  local d name pids=()
  if [ -d "$F/hosts" ]; then
    for d in "$F"/hosts/*/; do
      name=$(basename "$d")
      # shellcheck disable=SC2207
      pids+=($(host_pids "$name"))
    done
  fi
  # All hosts at once: one 5 s grace period in all, not one per host.
  terminate "${pids[@]}"
  rm -f "$F"/*.pid
  if [ "${FLEET_CLEAN:-}" = 1 ]; then rm -rf "$F/hosts"; fi
  echo "fleet down: stopped ${#pids[@]} processes"
}

# The restarted sshd gets a fresh namespace with the same bind mounts; the http server stays in
# the old one, which is kept alive by it and shows the very same directories.
cmd_start() {
  addr_of "$1" >/dev/null
  sshd_pid "$1" >/dev/null && return 0
  launch_sshd "$1"
  DEADLINE=$((SECONDS + TIMEOUT))
  wait_ready "$1" sshd "$F/$1.pid" "$(addr_of "$1")" 22 "$F/$1.log"
}

# SIGSTOP: the kernel still completes TCP handshakes into the listen backlog, so clients
# connect but never get a banner, as with a hung machine. The http server keeps running.
cmd_freeze() {
  local listener pids
  addr_of "$1" >/dev/null
  listener=$(sshd_pid "$1") || die "$1: sshd is not running"
  kill -STOP "$listener" # first, so it forks no new session while we stop the rest
  pids=$(sshd_pids "$1")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -STOP $pids 2>/dev/null || true
}

cmd_thaw() {
  local pids
  addr_of "$1" >/dev/null
  pids=$(sshd_pids "$1")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -CONT $pids 2>/dev/null || true
}

# A new host key, deliberately not put in known_hosts: the host now looks like an impostor.
cmd_rekey() {
  local key
  addr_of "$1" >/dev/null
  key=$(hostdir "$1")/ssh_host_ed25519_key
  rm -f "$key.tmp" "$key.tmp.pub"
  ssh-keygen -q -t ed25519 -N '' -C "$1-rekeyed" -f "$key.tmp"
  mv "$key.tmp" "$key"
  mv "$key.tmp.pub" "$key.pub"
  stop_sshd "$1"
  cmd_start "$1"
}

need_name() { [ -n "${1:-}" ] || die "usage: fleet.sh $2 NAME"; }

cmd=${1:-}
case $cmd in
up) cmd_up "${2:-}" ;;
down) cmd_down ;;
hosts) if [ -f "$HOSTS_LIST" ]; then cat "$HOSTS_LIST"; else die "no fleet in $F (run 'fleet.sh up N' first)"; fi ;;
stop) need_name "${2:-}" stop && addr_of "$2" >/dev/null && stop_sshd "$2" ;;
start) need_name "${2:-}" start && cmd_start "$2" ;;
freeze) need_name "${2:-}" freeze && cmd_freeze "$2" ;;
thaw) need_name "${2:-}" thaw && cmd_thaw "$2" ;;
rekey) need_name "${2:-}" rekey && cmd_rekey "$2" ;;
*) die "usage: fleet.sh up N | down | hosts | stop NAME | start NAME | freeze NAME | thaw NAME | rekey NAME" ;;
esac
