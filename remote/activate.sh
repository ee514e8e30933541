# shellcheck shell=sh
# Point current at a staged release. Arguments: base dir.
set -eu
base=$1 dir=$2
switch_to "$dir"
