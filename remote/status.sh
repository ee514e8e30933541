# shellcheck shell=sh
# The live release and its revision. Argument: base.
base=$1
read_live
echo "live $live"
[ -n "$live" ] && [ -f "$base/current/REVISION" ] && echo "revision $(cat "$base/current/REVISION")"
exit 0
