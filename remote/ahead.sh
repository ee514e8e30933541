# shellcheck shell=sh
# A release's tree sent before its commit exists (src/deploy/stage/ahead.ts), for a host with no
# release: unpacked into .ahead.<token>.partial/tree, in a directory only root may enter
# (the tree holds private files), which stage.sh (payload ahead) moves into place.
# Arguments: base token.
set -eu
base=$1 token=$2
umask 022
export LC_ALL=C
[ -d "$base/releases" ] || mkdir -p "$base/releases"
cd "$base/releases"
rm -rf -- .ahead.*
mkdir -m 700 ".ahead.$token.partial"
{ mkdir ".ahead.$token.partial/tree" && untar -C ".ahead.$token.partial/tree"; } || { rm -rf -- ".ahead.$token.partial"; echo "cannot unpack the tree" >&2; exit 1; }
echo ahead
