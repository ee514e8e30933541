# shellcheck shell=sh
# What `deploy check --connect` needs to know about a host. Nothing is left behind: a path
# not there yet is judged by the directory that would hold it, with a directory made and
# removed in it (a real write sees read-only mounts, immutable bits and ACLs; `test -w` not).
# Arguments: base (remote.path), rsync (remote.rsync). Prints one `key value` line each.
base=$1
rsync=$2
# the nearest path that exists: a deploy creates the rest below it
dir=$base
while [ ! -e "$dir" ] && [ "$dir" != / ]; do dir=$(dirname "$dir"); done
if [ ! -d "$dir" ]; then echo "writable no $dir is not a directory"
elif probe=$(mktemp -d "$dir/.slipway-check.XXXXXX" 2>/dev/null) && rmdir "$probe"; then echo "writable yes $dir"
else echo "writable no $dir cannot be written to"; fi
echo "tar $(command -v tar || true)"
echo "rsync $(command -v "$rsync" || true)"
# -P: one line per filesystem, columns fixed; the 4th is what may still be written (kB)
echo "avail $(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')"
echo "clock $(date +%s)"
exit 0
