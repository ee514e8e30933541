# shellcheck shell=sh
# shellcheck disable=SC2154 # live and bad are set by read_live and verify, in common.sh
# Remove every release but the live one whose files no longer match its manifest (changed by
# hand through a file it shares with another release): a later rollback to it stages it
# afresh instead of serving the edit. Releases without a manifest are left: a rollback
# restages them anyway. The directory goes first, then its record (see revision_of).
# Argument: base.
set -eu
base=$1
read_live
cd "$base/releases"
for d in r*-*; do
  [ "$d" != "$live" ] || continue
  revision_of "$d"
  [ -n "$r" ] || continue
  verify "$d"
  case $bad in '' | 0) continue ;; esac
  rm -rf -- "$d"
  rm -f -- ".$d.rev" ".$d.manifest"
  echo "forgot $d $bad"
done
exit 0
