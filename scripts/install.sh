#!/usr/bin/env bash
# `make install` / `make uninstall`: Slipway's own files into PREFIX, a directory Slipway owns
# (marked by .slipway-install), owned by root and writable by nobody else; `deploy` in BINDIR
# as a symlink. Nothing else in PREFIX or BINDIR is touched: app files live in APPS_DIR
# (/etc/slipway/apps), which is created when missing and never changed otherwise.
#   scripts/install.sh install|uninstall PREFIX BINDIR [APPS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

MARKER=.slipway-install
# Slipway's own files: everything install copies and uninstall removes
OWN=(package.json package-lock.json README.md dist remote node_modules docs examples)

die() { echo "install: $*" >&2; exit 2; }

[ $# -ge 3 ] || die "usage: $0 install|uninstall PREFIX BINDIR [APPS_DIR]"
action=$1
prefix=${2%/}
bindir=${3%/}
apps=${4:-/etc/slipway/apps}
[ "$action" = install ] || [ "$action" = uninstall ] || die "usage: $0 install|uninstall PREFIX BINDIR [APPS_DIR]"
[ "$(id -u)" = 0 ] || die "run as root: the installed files must be root's"
for dir in "$prefix" "$bindir" "$apps"; do
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

link="$bindir/deploy"
target="$prefix/dist/bin/deploy.js"

# A `deploy` in BINDIR is ours when it is a symlink to dist/bin/deploy.js of a marked Slipway install.
ours() {
  [ -L "$link" ] || return 1
  local to
  to=$(readlink "$link")
  case "$to" in */dist/bin/deploy.js) ;; *) return 1 ;; esac
  [ -e "${to%/dist/bin/deploy.js}/$MARKER" ]
}

if [ "$action" = uninstall ]; then
  [ -e "$prefix/$MARKER" ] || die "$prefix is not a Slipway install (no $MARKER); nothing removed"
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then rm -f -- "$link"; fi
  for f in "${OWN[@]}"; do rm -rf -- "${prefix:?}/$f"; done
  rm -f -- "$prefix/$MARKER"
  rmdir -- "$prefix" 2>/dev/null || echo "uninstall: $prefix kept: it holds files that are not Slipway's"
  echo "uninstalled Slipway from $prefix; app files in $apps are kept"
  exit 0
fi

if [ -e "$prefix" ] && [ ! -e "$prefix/$MARKER" ] && [ -n "$(ls -A -- "$prefix")" ]; then
  die "$prefix is not empty and is not a Slipway install (no $MARKER): choose another PREFIX"
fi
if { [ -e "$link" ] || [ -L "$link" ]; } && ! ours; then
  die "$link exists and is not Slipway's symlink: remove it or choose another BINDIR"
fi
[ -f dist/bin/deploy.js ] || die "dist/ is missing: run make build first"

# the runtime dependencies only, pruned in a scratch copy so PREFIX never holds dev tools
stage=$(mktemp -d)
trap 'rm -rf -- "$stage"' EXIT
rsync -rlpt package.json package-lock.json node_modules "$stage/"
(cd "$stage" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)

install -d -o root -g root -m 0755 "$prefix"
[ -d "$bindir" ] || install -d -o root -g root -m 0755 "$bindir"
chown root:root "$prefix"
chmod go-w "$prefix"
# root's files whoever owns the clone; --delete only inside Slipway's own subdirectories
copy() { rsync -rlpt --delete --chown=0:0 --chmod=Dgo-w,Fgo-w "$@"; }
copy "$stage/package.json" "$stage/package-lock.json" README.md "$prefix/"
copy "$stage/node_modules/" "$prefix/node_modules/"
copy dist/ "$prefix/dist/"
copy remote/ "$prefix/remote/"
copy docs/ "$prefix/docs/"
mkdir -p "$prefix/examples"
copy examples/ apps "$prefix/examples/"
printf 'slipway %s\napps=%s\n' "$(node -p "require('./package.json').version")" "$apps" > "$prefix/$MARKER"
chmod 0644 "$prefix/$MARKER"
ln -sfn -- "$target" "$link"
[ -d "$apps" ] || install -d -o root -g root -m 0755 "$apps"
echo "installed: $link -> $prefix; app files go in $apps (the installed Slipway's default; examples in $prefix/examples/apps)"
