#!/usr/bin/env bash
# `make install` / `make uninstall`: Slipway's own files into PREFIX, a directory Slipway owns
# (marked by .slipway-install), owned by root and writable by nobody else; `deploy` in BINDIR
# as a symlink. Nothing else in PREFIX or BINDIR is touched: app files live in APPS_DIR
# (/etc/slipway/apps), which is created when missing and never changed otherwise. The bash and
# zsh completion scripts and the man page deploy(1), generated into dist/share by the build, are
# linked into BASHCOMPDIR, ZSHCOMPDIR and MANDIR/man1 the same way as `deploy` into BINDIR.
#   scripts/install.sh install|uninstall PREFIX BINDIR [APPS_DIR [BASHCOMPDIR ZSHCOMPDIR MANDIR]]
set -euo pipefail
cd "$(dirname "$0")/.."

MARKER=.slipway-install
# Slipway's own files: everything install copies and uninstall removes
OWN=(package.json package-lock.json README.md dist remote web node_modules docs examples)

die() { echo "install: $*" >&2; exit 2; }

usage="usage: $0 install|uninstall PREFIX BINDIR [APPS_DIR [BASHCOMPDIR ZSHCOMPDIR MANDIR]]"
[ $# -ge 3 ] || die "$usage"
action=$1
prefix=${2%/}
bindir=${3%/}
apps=${4:-/etc/slipway/apps}
bashcompdir=${5:-/usr/share/bash-completion/completions}
bashcompdir=${bashcompdir%/}
zshcompdir=${6:-/usr/local/share/zsh/site-functions}
zshcompdir=${zshcompdir%/}
mandir=${7:-/usr/local/share/man}
mandir=${mandir%/}
[ "$action" = install ] || [ "$action" = uninstall ] || die "$usage"
[ "$(id -u)" = 0 ] || die "run as root: the installed files must be root's"
for dir in "$prefix" "$bindir" "$apps" "$bashcompdir" "$zshcompdir" "$mandir"; do
  case "$dir" in
    /*) ;;
    *) die "${dir:-an empty path}: must be an absolute path" ;;
  esac
  case "/$dir/" in
    */../*|*/./*) die "$dir: must not contain . or .. parts" ;;
  esac
done
case "${prefix%/}" in
  ''|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/local|/var)
    die "PREFIX=$prefix is a system directory; Slipway needs a directory of its own (default /opt/slipway)" ;;
esac

# Every link install makes, as "link file-in-PREFIX" pairs: `deploy`, its completions, its man page.
LINKS=(
  "$bindir/deploy" dist/bin/deploy.js
  "$bashcompdir/deploy" dist/share/bash-completion/completions/deploy
  "$zshcompdir/_deploy" dist/share/zsh/site-functions/_deploy
  "$mandir/man1/deploy.1" dist/share/man/man1/deploy.1
)

# A link is ours when it is a symlink to that file of a marked Slipway install, or a dangling
# one to that file: what an install deleted without `make uninstall` leaves behind.
ours() {
  local link=$1 own=$2 to
  [ -L "$link" ] || return 1
  to=$(readlink "$link")
  case "$to" in */"$own") ;; *) return 1 ;; esac
  [ -e "${to%/"$own"}/$MARKER" ] || [ ! -e "$link" ]
}

if [ "$action" = uninstall ]; then
  [ -e "$prefix/$MARKER" ] || die "$prefix is not a Slipway install (no $MARKER); nothing removed"
  for ((i = 0; i < ${#LINKS[@]}; i += 2)); do
    link=${LINKS[i]}
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$prefix/${LINKS[i+1]}" ]; then rm -f -- "$link"; fi
  done
  for f in "${OWN[@]}"; do rm -rf -- "${prefix:?}/$f"; done
  rm -f -- "$prefix/$MARKER"
  rmdir -- "$prefix" 2>/dev/null || echo "uninstall: $prefix kept: it holds files that are not Slipway's"
  echo "uninstalled Slipway from $prefix; app files in $apps are kept"
  exit 0
fi

if [ -e "$prefix" ] && [ ! -e "$prefix/$MARKER" ] && [ -n "$(ls -A -- "$prefix")" ]; then
  die "$prefix is not empty and is not a Slipway install (no $MARKER): choose another PREFIX"
fi
for ((i = 0; i < ${#LINKS[@]}; i += 2)); do
  link=${LINKS[i]}
  if { [ -e "$link" ] || [ -L "$link" ]; } && ! ours "$link" "${LINKS[i+1]}"; then
    die "$link exists and is not Slipway's symlink: remove it or choose another directory (BINDIR, BASHCOMPDIR, ZSHCOMPDIR, MANDIR)"
  fi
done
for ((i = 1; i < ${#LINKS[@]}; i += 2)); do
  [ -f "${LINKS[i]}" ] || die "${LINKS[i]} is missing: run make build first"
done

# the runtime dependencies only, pruned in a scratch copy so PREFIX never holds dev tools
stage=$(mktemp -d)
trap 'rm -rf -- "$stage"' EXIT
rsync -rlpt package.json package-lock.json node_modules "$stage/"
(cd "$stage" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)

install -d -o root -g root -m 0755 "$prefix"
chown root:root "$prefix"
chmod go-w "$prefix"
# root's files whoever owns the clone; --delete only inside Slipway's own subdirectories
copy() { rsync -rlpt --delete --chown=0:0 --chmod=Dgo-w,Fgo-w "$@"; }
copy "$stage/package.json" "$stage/package-lock.json" README.md "$prefix/"
copy "$stage/node_modules/" "$prefix/node_modules/"
copy dist/ "$prefix/dist/"
copy remote/ "$prefix/remote/"
copy web/ "$prefix/web/"
copy docs/ "$prefix/docs/"
mkdir -p "$prefix/examples"
copy examples/ apps "$prefix/examples/"
printf 'slipway %s\napps=%s\n' "$(node -p "require('./package.json').version")" "$apps" > "$prefix/$MARKER"
chmod 0644 "$prefix/$MARKER"
for ((i = 0; i < ${#LINKS[@]}; i += 2)); do
  link=${LINKS[i]}
  [ -d "$(dirname -- "$link")" ] || install -d -o root -g root -m 0755 "$(dirname -- "$link")"
  ln -sfn -- "$prefix/${LINKS[i+1]}" "$link"
done
[ -d "$apps" ] || install -d -o root -g root -m 0755 "$apps"
echo "installed: $bindir/deploy -> $prefix, its bash and zsh completion and man page; app files go in $apps (the installed Slipway's default; examples in $prefix/examples/apps)"
