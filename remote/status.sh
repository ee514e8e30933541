# shellcheck shell=sh
# shellcheck disable=SC2034 # base is read by the functions of common.sh, sent before this text
# The live release and its commit. Argument: base.
base=$1
read_live
echo "live $live"
[ -n "$live" ] || exit 0
revision_of "$live"
[ -z "$r" ] || echo "revision $r"
exit 0
