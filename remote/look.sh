# shellcheck shell=sh
# shellcheck disable=SC2034 # base is read by the functions of common.sh, sent before this text
# A host's look that then waits to switch it, in one remote process: the admin node sends
# the release directory once every host has staged it. Input that ends without one (the
# run stopped, failed elsewhere, or switches this host another way) and a connection that
# closes both end it with nothing changed. Once switched it waits again: `prune <keep>` (sent
# when the whole rollout succeeded) prunes old releases in the same command, saving each host
# a session of its own; the end of input ends it. Arguments: base, and the release directory
# to check against its manifest (a rollback's target; see look) or nothing, and a deploy's
# keepReleases, to name the spare releases (see look), if any.
base=$1
case ${3-} in *[!0-9]*) echo "not a number of releases to keep: $3" >&2; exit 2 ;; esac
look "${2-}" "${3-}"
echo ready
IFS= read -r dir || exit 0
case $dir in
  '' | .* | */*) echo "not a release directory: $dir" >&2; exit 2 ;;
esac
set -eu
switch_to "$dir"
IFS= read -r next || exit 0
case $next in
  'prune '*)
    keep=${next#prune }
    case $keep in '' | *[!0-9]*) echo "not a number of releases to keep: $keep" >&2; exit 2 ;; esac
    prune_releases "$keep" ;;
esac
