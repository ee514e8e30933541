# shellcheck shell=sh
# The live release and its commit. Argument: base.
base=$1
read_live
echo "live $live"
[ -n "$live" ] || exit 0
revision_of "$live"
[ -z "$r" ] || echo "revision $r"
exit 0
