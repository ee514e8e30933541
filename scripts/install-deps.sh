#!/usr/bin/env bash
# Install what Slipway and its tests need on a fresh Debian machine, only where missing:
# rsync, git, OpenSSH (client and server, for the loopback fleet), unshare/nsenter, and npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v rsync >/dev/null || need+=(rsync)
command -v git >/dev/null || need+=(git)
command -v ssh >/dev/null || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v unshare >/dev/null || need+=(util-linux)
command -v nsenter >/dev/null || need+=(util-linux)
command -v pgrep >/dev/null || need+=(procps)
command -v curl >/dev/null || need+=(curl)
command -v sudo >/dev/null || need+=(sudo)         # the sudo tests run the real sudo
command -v perl >/dev/null || need+=(perl)         # the task-user test sets ACLs with it
command -v flock >/dev/null || need+=(util-linux)  # the lock takeover
command -v shellcheck >/dev/null || need+=(shellcheck)   # make lint-sh: the scripts web servers run
command -v zsh >/dev/null || need+=(zsh)       # the zsh completion script is checked with zsh -n
command -v groff >/dev/null || need+=(groff-base)   # the man page is rendered in a test and by man
[ -x /usr/bin/chromium ] || need+=(chromium)   # the dashboard's browser test (playwright-core drives it)
[ -x /usr/bin/time ] || need+=(time)   # GNU time: the benchmark's CPU and memory figures
command -v ansible-inventory >/dev/null || need+=(ansible-core)   # the inventory test compares Slipway's reading with Ansible's
command -v tc >/dev/null || need+=(iproute2)   # the shaped fleet: network namespaces, bridges, tbf
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "install-deps: need root to install: ${need[*]}" >&2; exit 1; }
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# npm ci only when the lock file changed since the last install
stamp=node_modules/.slipway-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
