# shellcheck shell=sh
# A release's tree sent before its commit exists (deploy/ahead.ts), for a host with no
# release: unpacked into .ahead.<token>.partial, which stage.sh (payload ahead) moves into
# place. Arguments: base token.
set -eu
base=$1 token=$2
umask 022
export LC_ALL=C
[ -d "$base/releases" ] || mkdir -p "$base/releases"
cd "$base/releases"
rm -rf -- .ahead.*
mkdir ".ahead.$token.partial"
untar -C ".ahead.$token.partial" || { rm -rf -- ".ahead.$token.partial"; echo "cannot unpack the tree" >&2; exit 1; }
echo ahead
