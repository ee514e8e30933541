# shellcheck shell=sh
# shellcheck disable=SC2034 # base is read by the functions of common.sh, sent before this text
# Point current at a staged release. Arguments: base dir.
set -eu
base=$1 dir=$2
switch_to "$dir"
