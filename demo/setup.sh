#!/usr/bin/env bash
# Create the demo app's world under $SLIPWAY_DEMO_DIR (default /tmp/slipway-demo):
#   repos/vendor.git   a "vendor" library, used as a submodule
#   repos/demo.git     the app's public source, with the submodule at vendor/lib
#   admin/prod/private/demo/   private settings (never in the public repo) and a .env for tasks
# Idempotent: existing repos are left alone, so a second `make demo` deploys "no change".
set -euo pipefail
D=${SLIPWAY_DEMO_DIR:-/tmp/slipway-demo}
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
git_() { git -c init.defaultBranch=main -c protocol.file.allow=always "$@"; }

mkdir -p "$D/repos" "$D/work"
if [ ! -d "$D/repos/vendor.git" ]; then
  rm -rf "$D/work/vendor" && git_ init -q "$D/work/vendor"
  printf 'def greet(name):\n    return "hello, " + name\n' > "$D/work/vendor/greet.py"
  git_ -C "$D/work/vendor" add -A && git_ -C "$D/work/vendor" commit -qm "vendor lib 1.0"
  git_ clone -q --bare "$D/work/vendor" "$D/repos/vendor.git"
fi
if [ ! -d "$D/repos/demo.git" ]; then
  rm -rf "$D/work/demo" && git_ init -q "$D/work/demo"
  cd "$D/work/demo"
  mkdir -p css static app
  printf '<h1>Slipway demo</h1>\n<p>one release, the same on every host</p>\n' > index.html
  printf 'ok\n' > health.txt
  printf 'body { margin: 0 }\n' > css/base.css
  printf 'h1 { color: teal }\n' > css/site.css
  : > static/.gitkeep
  printf '*.pyc\n' > .gitignore
  printf 'from settings_local import *  # private, overlaid at release time\n' > app/settings.py
  git_ submodule add -q "$D/repos/vendor.git" vendor/lib
  git_ add -A && git_ commit -qm "demo app"
  git_ clone -q --bare "$D/work/demo" "$D/repos/demo.git"
fi
P=$D/admin/prod/private/demo
mkdir -p "$P/app"
[ -f "$P/app/settings_local.py" ] || printf 'SECRET_KEY = "demo-not-a-real-secret"\nDATABASE_URL = "mysql://demo@db/demo"\n' > "$P/app/settings_local.py"
[ -f "$P/.env" ] || printf 'ASSET_SALT=s3cr3t-asset-salt\n' > "$P/.env"
chmod 600 "$P/.env"
echo "demo: repos in $D/repos, private settings in $P"
