# shellcheck shell=sh
# shellcheck disable=SC2034 # base is read by the functions of common.sh, sent before this text
# Prune old releases (prune_releases, in common.sh). Arguments: base keep. A run whose look
# switched the host prunes through that same command instead (look.sh).
set -eu
base=$1
prune_releases "$2"
