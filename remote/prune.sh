# shellcheck shell=sh
# Prune old releases (prune_releases, in common.sh). Arguments: base keep. A run whose look
# switched the host prunes through that same command instead (look.sh).
set -eu
base=$1
prune_releases "$2"
