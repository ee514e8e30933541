#!/usr/bin/env bash
# A fleet of fake "web servers" in network namespaces, in datacenters joined by bridges, every
# link shaped with `tc tbf` (#21). Needs root, iproute2 (ip, tc), util-linux (unshare,
# nsenter), openssh-server and node. For benchmarks and tests where bandwidth matters; for
# everything else test/fleet/fleet.sh (loopback) is lighter.
#
# Shaping is bandwidth only: tbf on the egress of both ends of every link. There is NO added
# latency (netem is not in every kernel, and not in the one this was written on): packets cross
# the fabric in microseconds, so a link's round trip is ~0 and only its rate limits a transfer.
#
# Topology (run id R, prefix P such as 10.213, one flat /16 layer-2 network, no routing):
#
#   root netns (the admin node, P.0.1)
#     swRa0 ==(admin uplink: swRa0 egress = admin upload, swRa1 egress = admin download)==+
#                                                                                           |
#   netns swR-fab ("the fabric"): bridge swRc (the core) <- swRa1                           |
#     swRc <- swRu<k> ==(DC k's uplink: swRu<k> egress = into DC k, swRv<k> egress = out)== swRv<k> -> bridge swRd<k>
#     swRd<k> <- swRh<i> ==(host i's link: swRh<i> egress = to the host, eth0 egress = from it)== eth0 in netns swR-web<i>
#
#   netns swR-web<i>: eth0 = P.<k>.<j> (web<i> is the j-th host of datacenter dc<k>; hosts are
#   dealt to datacenters in turn: web1 -> dc1, web2 -> dc2, ...), lo; sshd on :22 and the
#   fleet's http server (test/fleet/http-server.mjs) on :8080, both in one mount namespace of
#   their own where /data is $NETFLEET_DIR/hosts/web<i>/data and /root is .../home, as in fleet.sh.
#
# So two hosts of one datacenter talk over their DC bridge only (their two host links); a host
# reaches the admin node through its link, its DC's uplink and the admin uplink; a host of
# another datacenter through both DC uplinks, never the admin uplink. It is bridged rather than
# routed so that nothing needs ip_forward and every hop is a veth whose qdisc and counters are
# the link's. IPv6 is off on every link (addrgenmode none): no neighbour discovery chatter in
# the counters. Every name starts with sw<R> (R: NETFLEET_ID, or 4 random characters kept in
# $NETFLEET_DIR/id), so `down` finds its own and nothing else; the only thing in the root netns
# is the link swRa0 (P.0.1/16 and the /16's route).
#
# usage: netfleet.sh up [N] | down | hosts | counters | stop NAME | start NAME | freeze NAME | thaw NAME | rekey NAME
# env:   NETFLEET_DIR (default /tmp/slipway-netfleet), NETFLEET_HOSTS (default 100; or `up N`),
#        NETFLEET_DCS (default 4; 1..64), NETFLEET_PREFIX (default 10.213: a private /16),
#        NETFLEET_ADMIN_RATE (default 1gbit), NETFLEET_DC_RATE (default 10gbit),
#        NETFLEET_HOST_RATE (default 1gbit) (tc units: bit, kbit, mbit, gbit), NETFLEET_ID (the run
#        id, [a-z0-9]{1,5}; default random), NETFLEET_HTTP=0 (no http servers), NETFLEET_CLEAN=1
#        (`down` also removes the hosts' dirs), NETFLEET_TIMEOUT (seconds for `up`'s waits, 60)
#
# `up` takes down a previous fleet of the same dir first; if it fails or is interrupted it
# takes down what it started (trap). Files in $NETFLEET_DIR:
#   id                       the run id R
#   clientkey, clientkey.pub the one key that logs in as root on every host
#   known_hosts              "addr keytype base64" per host
#   hosts.list               "name addr dc" per host (`netfleet.sh hosts` prints it)
#   links.list               "role dc iface netns" per shaped link, egress side (`counters` reads it)
#   hosts/web<i>/{data,home,sshd_config,ssh_host_ed25519_key}
#   web<i>.pid, web<i>.log (sshd), web<i>.http.pid, web<i>.http.log, web<i>.setup.log (its start)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
F=${NETFLEET_DIR:-/tmp/slipway-netfleet}
case $F in /*) ;; *) F=$PWD/$F ;; esac
TIMEOUT=${NETFLEET_TIMEOUT:-60}
SSHD=/usr/sbin/sshd
FLEET_TOOL=netfleet.sh
# shellcheck source-path=SCRIPTDIR source=fleet-common.sh
. "$HERE/fleet-common.sh"
HTTP_PORT=8080
HOSTS_LIST=$F/hosts.list
LINKS_LIST=$F/links.list

case $F/ in /root/* | /data/*) die "$F is under /root or /data, which every host mounts over" ;; esac

# The run id of the fleet in $F, if any.
run_id() { cat "$F/id" 2>/dev/null || true; }

netns_of() {
  local id
  addr_of "$1" >/dev/null
  id=$(run_id)
  [ -n "$id" ] || die "no fleet in $F"
  echo "sw$id-$1"
}

# A tc rate (1gbit, 50mbit, ...) in bits per second.
rate_bits() {
  [[ $1 =~ ^([0-9]+)(bit|kbit|mbit|gbit)$ ]] || die "rate '$1': expected a whole number and bit, kbit, mbit or gbit (like 1gbit)"
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in
  bit) echo "$n" ;;
  kbit) echo $((n * 1000)) ;;
  mbit) echo $((n * 1000000)) ;;
  gbit) echo $((n * 1000000000)) ;;
  esac
}

# tbf for a rate: a bucket of 4 ms at that rate (timer slack must not starve a fast link),
# at least 64 kB (one GSO segment passes whole); a queue of 20 ms on top.
tbf_args() {
  local bits burst
  bits=$(rate_bits "$1")
  burst=$((bits / 8 / 250))
  [ "$burst" -ge 65536 ] || burst=65536
  echo "tbf rate $1 burst $burst latency 20ms"
}

# The pids of every process in the given network namespaces (names under /run/netns), in one
# pass over /proc: a namespace is the inode its /run/netns file and /proc/PID/ns/net share.
pids_in_netns() {
  [ $# -gt 0 ] || return 0
  local refs
  refs=$(cd /run/netns 2>/dev/null && { stat -L -c '%i' "$@" 2>/dev/null || true; })
  [ -n "$refs" ] || return 0
  { stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null || true; } |
    awk -v refs="$refs" -v self=$$ 'BEGIN { n = split(refs, r, "\n"); for (i = 1; i <= n; i++) want[r[i]] = 1 }
      $1 in want { split($2, p, "/"); if (p[3] != self) print p[3] }'
}

# The pids of processes whose command line contains one of the given strings (bash builtins
# only: no forked grep to match itself, and fast over hundreds of processes).
pids_by_cmdline() {
  local c p args line
  for c in /proc/[0-9]*/cmdline; do
    p=${c#/proc/} p=${p%/cmdline}
    if [ "$p" = $$ ] || [ "$p" = "$BASHPID" ]; then continue; fi
    mapfile -d '' args <"$c" 2>/dev/null || continue
    line="${args[*]-}"
    if [[ $line == *"$1"* || $line == *"$2"* ]]; then echo "$p"; fi
  done
  return 0
}

# Our namespaces: every /run/netns entry named sw<id>-*.
our_netns() {
  local id=$1 n
  [ -d /run/netns ] || return 0
  for n in /run/netns/"sw$id"-*; do
    [ -e "$n" ] && basename "$n"
  done
  return 0
}

# The http server's pid of host NAME, if it is alive and really ours.
http_pid() {
  local pid
  pid=$(cat "$F/$1.http.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$F/$1.http.pid" || return 1
  echo "$pid"
}

# Host NAME's sshd and everything its sessions run: all of its netns but the http server.
sshd_pids() {
  local http
  http=$(http_pid "$1" || true)
  pids_in_netns "$(netns_of "$1")" | { grep -vx -- "${http:-none}" || true; }
}

# Start host NAME: inside its netns, a fresh mount namespace with its /data and /root, then
# (unless NETFLEET_HTTP=0) the http server in the background and sshd, which daemonizes.
# With "net", the netns's links are configured first (addr, up, lo, tbf on eth0); with "http"
# the http server starts too. Returns when sshd has daemonized or failed.
launch_host() { # name net|- http|-
  local name=$1 d ns addr net_setup=':' http=''
  d=$(hostdir "$name") ns=$(netns_of "$name") addr=$(addr_of "$name")
  if [ "$2" = net ]; then
    net_setup="ip link set lo up && ip addr add $addr/16 dev eth0 && ip link set eth0 addrgenmode none && ip link set eth0 up && tc qdisc add dev eth0 root $(tbf_args "$HOST_RATE")"
  fi
  if [ "$3" = http ]; then
    rm -f "$F/$name.http.pid"
    # env -i: a daemon should not inherit the caller's NODE_OPTIONS, test-runner variables etc.
    # Its stdio go to a log file: an inherited pipe would keep a caller such as execa waiting.
    # shellcheck disable=SC2016  # expanded by the inner sh, from its arguments
    http='env -i PATH=/usr/local/bin:/usr/bin:/bin "$6" "$7/http-server.mjs" --host "$8" --port "$9" --name "${10}" --pidfile "$7/${10}.http.pid" </dev/null >>"$7/${10}.http.log" 2>&1 &'
  fi
  rm -f "$F/$name.pid"
  # Private propagation: the bind mounts must not leak into the root namespace or other hosts.
  # shellcheck disable=SC2016  # expanded by the inner sh, from its arguments
  nsenter --net="/run/netns/$ns" -- unshare -m --propagation private sh -c \
    "set -e; $net_setup; mount --bind \"\$1\" /data; mount --bind \"\$2\" /root; $http exec \"\$3\" -f \"\$4\" -E \"\$5\"" \
    netfleet-host "$d/data" "$d/home" "$SSHD" "$d/sshd_config" "$F/$name.log" "$NODE" "$F" "$addr" "$HTTP_PORT" "$name" \
    </dev/null >>"$F/$name.setup.log" 2>&1
}

# shellcheck disable=SC2016  # $0 and $1 are the inner bash's arguments, as meant
can_connect() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# Say why, with the last lines of host NAME's logs, and fail.
give_up() { # name why
  say "$2; last lines of its logs:"
  tail -n 5 "$F/$1.log" "$F/$1.http.log" >&2 2>/dev/null || true
  exit 1
}

# Wait, until $DEADLINE, for every host's pid files, then for its ports to accept TCP.
wait_ready() { # names...
  local name addr pending=("$@") left
  while [ ${#pending[@]} -gt 0 ]; do
    left=()
    for name in "${pending[@]}"; do
      if [ ! -s "$F/$name.pid" ] || { [ "$WITH_HTTP" = 1 ] && [ ! -s "$F/$name.http.pid" ]; }; then left+=("$name"); fi
    done
    pending=("${left[@]+"${left[@]}"}")
    [ ${#pending[@]} -gt 0 ] || break
    [ "$SECONDS" -lt "$DEADLINE" ] || give_up "${pending[0]}" "${#pending[@]} hosts not started after ${TIMEOUT}s (first: ${pending[0]})"
    sleep 0.1
  done
  for name in "$@"; do
    addr=$(addr_of "$name")
    until can_connect "$addr" 22 && { [ "$WITH_HTTP" != 1 ] || can_connect "$addr" "$HTTP_PORT"; }; do
      [ "$SECONDS" -lt "$DEADLINE" ] || give_up "$name" "$name: not accepting connections on $addr after ${TIMEOUT}s"
      sleep 0.1
    done
  done
}

UP_DONE=0
on_up_exit() {
  local rc=$?
  [ "$UP_DONE" = 1 ] && return 0
  trap - INT TERM
  say "up failed or was interrupted (status $rc): taking down what was started"
  # Hosts still being launched finish first, so that none starts after the clean-up.
  wait || true
  cmd_down >&2 || true
  exit "$rc"
}

cmd_up() {
  local n=${1:-${NETFLEET_HOSTS:-100}} dcs=${NETFLEET_DCS:-4} prefix=${NETFLEET_PREFIX:-10.213}
  local admin_rate=${NETFLEET_ADMIN_RATE:-1gbit} dc_rate=${NETFLEET_DC_RATE:-10gbit}
  HOST_RATE=${NETFLEET_HOST_RATE:-1gbit}
  WITH_HTTP=1
  [ "${NETFLEET_HTTP:-1}" != 0 ] || WITH_HTTP=0
  if ! { [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ]; }; then die "hosts: expected a number >= 1 (got '$n')"; fi
  if ! { [[ $dcs =~ ^[0-9]+$ ]] && [ "$dcs" -ge 1 ] && [ "$dcs" -le 64 ]; }; then die "NETFLEET_DCS: expected 1..64 (got '$dcs')"; fi
  [ $(((n + dcs - 1) / dcs)) -le 254 ] || die "$n hosts in $dcs datacenters: at most 254 per datacenter"
  [[ $prefix =~ ^(10\.[0-9]{1,3}|172\.(1[6-9]|2[0-9]|3[01])|192\.168)$ ]] || die "NETFLEET_PREFIX: expected the first two octets of a private /16, like 10.213 (got '$prefix')"
  local r
  for r in "$admin_rate" "$dc_rate" "$HOST_RATE"; do rate_bits "$r" >/dev/null; done
  [ -x "$SSHD" ] || die "$SSHD not found: install openssh-server"
  command -v tc >/dev/null || die "tc not found: install iproute2"
  NODE=$(command -v node) || die "node not found"
  case $NODE/ in /root/*) die "node ($NODE) is under /root, which every host mounts over" ;; esac

  # A previous fleet in this dir goes first (its namespaces, links and processes).
  [ -z "$(run_id)" ] || cmd_down >&2
  # Addresses and routes of the prefix in the root netns would collide with ours.
  if ip -4 -o addr show | awk '{ print $4 }' | grep -q "^${prefix//./\\.}\\."; then die "an address in $prefix.0.0/16 is already in use here; choose another NETFLEET_PREFIX"; fi
  if ip -4 route show | awk '{ print $1 }' | grep -q "^${prefix//./\\.}\\."; then die "a route into $prefix.0.0/16 exists here; choose another NETFLEET_PREFIX"; fi

  local id=${NETFLEET_ID:-}
  if [ -z "$id" ]; then id=$(tr -dc 'a-z0-9' </dev/urandom | head -c 4 || true); fi
  [[ $id =~ ^[a-z0-9]{1,5}$ ]] || die "NETFLEET_ID: expected 1-5 of [a-z0-9] (got '$id')"
  if [ -n "$(our_netns "$id")" ] || ip link show "sw${id}a0" >/dev/null 2>&1; then die "run id $id is in use (namespaces sw$id-* exist); set another NETFLEET_ID"; fi

  mkdir -p "$F/hosts" /run/sshd /data /run/netns
  cp "$HERE/http-server.mjs" "$F/http-server.mjs"
  echo "$id" >"$F/id"
  # From here on, a failure or Ctrl-C takes everything down again.
  trap on_up_exit EXIT
  trap 'exit 130' INT TERM
  local started=$SECONDS

  # Keys, configs, the host list (hosts dealt to datacenters in turn).
  [ -f "$F/clientkey" ] || ssh-keygen -q -t ed25519 -N '' -C netfleet-client -f "$F/clientkey"
  local i k j name addr d names=()
  : >"$HOSTS_LIST.new"
  : >"$F/known_hosts.new"
  for i in $(seq 1 "$n"); do
    name=web$i d=$(hostdir "$name")
    mkdir -p "$d/data" "$d/home/.ssh"
    if [ ! -f "$d/ssh_host_ed25519_key" ]; then ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$d/ssh_host_ed25519_key" & fi
  done
  wait
  for i in $(seq 1 "$n"); do
    k=$(((i - 1) % dcs + 1)) j=$(((i - 1) / dcs + 1))
    name=web$i addr=$prefix.$k.$j d=$(hostdir "$name")
    names+=("$name")
    cp "$F/clientkey.pub" "$d/home/.ssh/authorized_keys"
    write_sshd_config "$name" "$addr" "$d/sshd_config"
    echo "$addr $(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" >>"$F/known_hosts.new"
    echo "$name $addr dc$k" >>"$HOSTS_LIST.new"
    rm -f "$F/$name.pid" "$F/$name.http.pid" "$F/$name.log" "$F/$name.http.log" "$F/$name.setup.log"
  done
  "$SSHD" -t -f "$(hostdir web1)/sshd_config" || die "sshd rejects the generated config"
  mv "$F/known_hosts.new" "$F/known_hosts"
  mv "$HOSTS_LIST.new" "$HOSTS_LIST"

  # The namespaces, then the fabric's links in one batch, then their qdiscs in another.
  local fab=sw$id-fab batch=$F/ip.batch tcb=$F/tc.batch
  {
    echo "netns add $fab"
    for name in "${names[@]}"; do echo "netns add sw$id-$name"; done
  } >"$batch"
  ip -batch "$batch"
  # The admin uplink: swRa0 stays here, swRa1 goes to the fabric.
  ip link add "sw${id}a0" type veth peer name "sw${id}a1" netns "$fab"
  ip link set "sw${id}a0" addrgenmode none
  ip addr add "$prefix.0.1/16" dev "sw${id}a0"
  # shellcheck disable=SC2046  # tbf_args prints several words, as meant
  tc qdisc add dev "sw${id}a0" root $(tbf_args "$admin_rate")
  ip link set "sw${id}a0" up
  : >"$LINKS_LIST"
  echo "admin-up - sw${id}a0 -" >>"$LINKS_LIST"
  echo "admin-down - sw${id}a1 $fab" >>"$LINKS_LIST"
  {
    echo "link set lo up"
    echo "link add sw${id}c type bridge stp_state 0"
    echo "link set sw${id}c addrgenmode none"
    echo "link set sw${id}a1 addrgenmode none"
    echo "link set sw${id}a1 master sw${id}c"
    for k in $(seq 1 "$dcs"); do
      echo "link add sw${id}d$k type bridge stp_state 0"
      echo "link set sw${id}d$k addrgenmode none"
      echo "link add sw${id}u$k type veth peer name sw${id}v$k"
      echo "link set sw${id}u$k addrgenmode none"
      echo "link set sw${id}v$k addrgenmode none"
      echo "link set sw${id}u$k master sw${id}c"
      echo "link set sw${id}v$k master sw${id}d$k"
    done
    for i in $(seq 1 "$n"); do
      k=$(((i - 1) % dcs + 1))
      echo "link add sw${id}h$i type veth peer name eth0 netns sw$id-web$i"
      echo "link set sw${id}h$i addrgenmode none"
      echo "link set sw${id}h$i master sw${id}d$k"
    done
  } >"$batch"
  ip -n "$fab" -batch "$batch"
  {
    echo "qdisc add dev sw${id}a1 root $(tbf_args "$admin_rate")"
    for k in $(seq 1 "$dcs"); do
      echo "qdisc add dev sw${id}u$k root $(tbf_args "$dc_rate")"
      echo "qdisc add dev sw${id}v$k root $(tbf_args "$dc_rate")"
    done
    for i in $(seq 1 "$n"); do echo "qdisc add dev sw${id}h$i root $(tbf_args "$HOST_RATE")"; done
  } >"$tcb"
  tc -n "$fab" -batch "$tcb"
  {
    echo "link set sw${id}c up"
    echo "link set sw${id}a1 up"
    for k in $(seq 1 "$dcs"); do
      echo "link set sw${id}d$k up"
      echo "link set sw${id}u$k up"
      echo "link set sw${id}v$k up"
    done
    for i in $(seq 1 "$n"); do echo "link set sw${id}h$i up"; done
  } >"$batch"
  ip -n "$fab" -batch "$batch"
  for k in $(seq 1 "$dcs"); do
    echo "dc$k-down dc$k sw${id}u$k $fab" >>"$LINKS_LIST"
    echo "dc$k-up dc$k sw${id}v$k $fab" >>"$LINKS_LIST"
  done
  # Bridged frames need not cross the fabric's (empty) iptables.
  # shellcheck disable=SC2016  # the inner sh's variable
  nsenter --net="/run/netns/$fab" sh -c 'for f in /proc/sys/net/bridge/bridge-nf-call-ip*tables; do [ -w "$f" ] && echo 0 >"$f"; done; true' || true
  rm -f "$batch" "$tcb"
  say "links of $n hosts in $dcs datacenters set up in $((SECONDS - started)) s"

  # The hosts, 16 at a time: each its addresses, its qdisc, its mounts, http server and sshd.
  local pids=() p batch_names=()
  start_batch() {
    local nm
    for p in "${pids[@]+"${pids[@]}"}"; do
      if ! wait "$p"; then
        for nm in "${batch_names[@]}"; do tail -n 3 "$F/$nm.setup.log" "$F/$nm.log" >&2 2>/dev/null || true; done
        die "a host failed to start (see the log lines above, $F/web<i>.setup.log and .log)"
      fi
    done
    pids=() batch_names=()
  }
  local http_mode=-
  [ "$WITH_HTTP" = 1 ] && http_mode=http
  for name in "${names[@]}"; do
    launch_host "$name" net "$http_mode" &
    pids+=($!) batch_names+=("$name")
    [ ${#pids[@]} -lt 16 ] || start_batch
  done
  start_batch
  DEADLINE=$((SECONDS + TIMEOUT))
  wait_ready "${names[@]}"
  UP_DONE=1
  trap - EXIT INT TERM
  echo "netfleet up: $n hosts in $dcs datacenters on $prefix.0.0/16 (run id $id) in $((SECONDS - started)) s;" \
    "tbf bandwidth shaping only, no latency: admin uplink $admin_rate, DC uplinks $dc_rate, host links $HOST_RATE;" \
    "key $F/clientkey, known_hosts $F/known_hosts, list $HOSTS_LIST"
}

cmd_down() {
  local id nss pids
  id=$(run_id)
  id=${id:-${NETFLEET_ID:-}}
  if [ -z "$id" ]; then
    echo "netfleet down: no fleet in $F"
    return 0
  fi
  # shellcheck disable=SC2207
  nss=($(our_netns "$id"))
  # Every process in our namespaces: sshd, its sessions, http servers, whatever they started;
  # and, should one have outlived its namespace's name, any sshd or http server of this dir.
  pids=$({
    pids_in_netns "${nss[@]+"${nss[@]}"}"
    pids_by_cmdline "$F/hosts/" "$F/http-server.mjs"
  } | sort -un)
  # shellcheck disable=SC2086
  terminate $pids
  # The root end first: deleting it deletes its peer at once, while the kernel tears down a
  # deleted namespace's links in the background.
  ip link del "sw${id}a0" 2>/dev/null || true
  if [ ${#nss[@]} -gt 0 ]; then
    printf 'netns del %s\n' "${nss[@]}" | ip -force -batch - 2>/dev/null || true
  fi
  local left
  left=$(our_netns "$id")
  [ -z "$left" ] || say "namespaces left behind: $left"
  rm -f "$F"/*.pid "$F/id" "$LINKS_LIST"
  if [ "${NETFLEET_CLEAN:-}" = 1 ]; then rm -rf "$F/hosts"; fi
  echo "netfleet down: run $id, stopped $(echo "$pids" | grep -c . || true) processes, removed ${#nss[@]} namespaces"
}

# Bytes sent on each shaped link's egress side so far: "role dc iface tx_bytes".
cmd_counters() {
  [ -f "$LINKS_LIST" ] || die "no fleet in $F"
  local role dc iface ns bytes
  while read -r role dc iface ns; do
    if [ "$ns" = - ]; then
      bytes=$(cat "/sys/class/net/$iface/statistics/tx_bytes")
    else
      bytes=$(ip -n "$ns" -s -j link show dev "$iface" | sed -n 's/.*"tx":{"bytes":\([0-9]*\).*/\1/p')
    fi
    echo "$role $dc $iface $bytes"
  done <"$LINKS_LIST"
}

# What only the TS wrapper and tests need besides: stop, start, freeze, thaw, rekey (as fleet.sh).
cmd_stop() {
  # shellcheck disable=SC2207
  local pids=($(sshd_pids "$1"))
  terminate "${pids[@]+"${pids[@]}"}"
  rm -f "$F/$1.pid"
}

cmd_start() {
  local pids
  pids=$(sshd_pids "$1")
  [ -z "$pids" ] || return 0
  NODE=$(command -v node)
  launch_host "$1" - -
  WITH_HTTP=0
  DEADLINE=$((SECONDS + TIMEOUT))
  wait_ready "$1"
}

cmd_signal() { # STOP|CONT name
  local pids
  pids=$(sshd_pids "$2")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill "-$1" $pids 2>/dev/null || true
}

cmd_rekey() {
  local key
  key=$(hostdir "$1")/ssh_host_ed25519_key
  rm -f "$key.tmp" "$key.tmp.pub"
  ssh-keygen -q -t ed25519 -N '' -C "$1-rekeyed" -f "$key.tmp"
  mv "$key.tmp" "$key"
  mv "$key.tmp.pub" "$key.pub"
  cmd_stop "$1"
  cmd_start "$1"
}

need_name() {
  [ -n "${1:-}" ] || die "usage: netfleet.sh $2 NAME"
  addr_of "$1" >/dev/null
}

cmd=${1:-}
case $cmd in
up) cmd_up "${2:-}" ;;
down) cmd_down ;;
hosts) if [ -f "$HOSTS_LIST" ] && [ -n "$(run_id)" ]; then cat "$HOSTS_LIST"; else die "no fleet in $F (run 'netfleet.sh up' first)"; fi ;;
counters) cmd_counters ;;
stop) need_name "${2:-}" stop && cmd_stop "$2" ;;
start) need_name "${2:-}" start && cmd_start "$2" ;;
freeze) need_name "${2:-}" freeze && cmd_signal STOP "$2" ;;
thaw) need_name "${2:-}" thaw && cmd_signal CONT "$2" ;;
rekey) need_name "${2:-}" rekey && cmd_rekey "$2" ;;
*) die "usage: netfleet.sh up [N] | down | hosts | counters | stop NAME | start NAME | freeze NAME | thaw NAME | rekey NAME" ;;
esac
