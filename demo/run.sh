#!/usr/bin/env bash
# `make demo`: start a 3-host loopback fleet, create the demo app's repos and private
# settings, deploy it for real, and show what every host serves.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SLIPWAY_DEMO_DIR:-/tmp/slipway-demo}
# the fleet's loopback /24 (apps/demo.ts reads it too): the test of this script uses its own
NET=${SLIPWAY_DEMO_NET:-127.0.1}
export SLIPWAY_DEMO_DIR=$D SLIPWAY_DEMO_NET=$NET SLIPWAY_ROOT=$D/admin SLIPWAY_APPS=$PWD/apps
FLEET_DIR=$D/fleet FLEET_NET=$NET bash test/fleet/fleet.sh up 3
bash demo/setup.sh
echo
echo "\$ deploy demo-prod"
node dist/bin/deploy.js demo-prod
echo
echo "\$ deploy releases demo-prod"
node dist/bin/deploy.js releases demo-prod
echo
echo "\$ deploy status demo-prod"
node dist/bin/deploy.js status demo-prod
echo
# each host's page and the asset version the admin task stamped into the release
for i in 1 2 3; do
  url=http://$NET.$i:8080/demo
  printf 'web%s serves: %s (asset version %s)\n' "$i" "$(curl -fsS "$url/index.html" | tr -d '\n' | head -c 120)" "$(curl -fsS "$url/static/VERSION")"
done
echo
echo "Try: SLIPWAY_ROOT=$D/admin node dist/bin/deploy.js --help    (make demo-down removes the demo)"
