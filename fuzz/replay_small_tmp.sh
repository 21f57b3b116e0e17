#!/bin/sh
# usage: fuzz/replay_small_tmp.sh REPLAY CORPUS
#
# Runs the replay driver REPLAY over CORPUS with MMAPIO_FUZZ_DIR (where the
# target makes its file) on a 512 KiB tmpfs mounted in a private mount
# namespace (unshare -m; unshare -Urm where that needs privilege), so that
# creates and preallocations run out of room.
# Exits with REPLAY's status, or 77 (skipped, with the reason) where no
# mount namespace can be made.
set -eu
[ "$#" -eq 2 ] || { sed -n 2p "$0" >&2; exit 2; }
replay=$1 corpus=$2
if unshare -m true 2>/dev/null; then
  ns=-m
elif unshare -Urm true 2>/dev/null; then
  ns=-Urm
else
  echo "SKIPPED: cannot make a private mount namespace (unshare -m and -Urm refused)"
  exit 77
fi
mnt=$(mktemp -d "${TMPDIR:-/tmp}/mmapio-small-tmp.XXXXXX")
rc=0
# shellcheck disable=SC2016 # expanded by the inner shell
unshare "$ns" sh -c 'mount -t tmpfs -o size=512k tmpfs "$1" &&
  MMAPIO_FUZZ_DIR=$1 exec "$2" "$3"' sh "$mnt" "$replay" "$corpus" || rc=$?
rmdir "$mnt"
exit "$rc"
