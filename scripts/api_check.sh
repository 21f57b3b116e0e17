#!/usr/bin/env bash
# usage: scripts/api_check.sh [--update] [--no-install]
#
# The SemVer lock: rebuilds the shared library, regenerates the public API
# surface (api/public-api.txt: exported symbols with their prototypes,
# macros and types) and the ABI dump (api/abi.xml, libabigail), and fails
# on any difference from the committed snapshot. --update rewrites the
# snapshot instead: commit it together with the change that needed it.
set -euo pipefail
update=0 install=1
for arg in "$@"; do
  case $arg in
  --update) update=1 ;;
  --no-install) install=0 ;;
  -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "api_check.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh
pkgs=(cmake gcc abigail-tools python3 binutils)
if [ "$install" = 1 ]; then deps_ensure "${pkgs[@]}"; else deps_ensure --check "${pkgs[@]}"; fi

build=build/api
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMAPIO_BUILD_TESTS=OFF \
  -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build "$build" --target mmapio -j2 >/dev/null
lib=$(readlink -f "$build/lib/libmmapio.so")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/api_surface.py lib/include/mmapio.h "$lib" >"$tmp/public-api.txt"
abidw --no-corpus-path --no-comp-dir-path --headers-dir lib/include "$lib" >"$tmp/abi.xml"

if [ "$update" = 1 ]; then
  mkdir -p api
  cp "$tmp/public-api.txt" api/public-api.txt
  cp "$tmp/abi.xml" api/abi.xml
  echo "api_check: snapshot updated (api/public-api.txt, api/abi.xml)"
  exit 0
fi
status=0
if ! diff -u api/public-api.txt "$tmp/public-api.txt"; then
  echo "api_check: the public API changed; if intended, run scripts/api_check.sh --update and commit" >&2
  status=1
fi
# --hd1/--hd2: only types the public header defines count; the opaque
# handles (mmapio_map, mmapio_cursor, ...) are the library's own to change.
if ! abidiff --no-added-syms --hd1 lib/include --hd2 lib/include \
  api/abi.xml "$tmp/abi.xml" >"$tmp/abidiff.txt"; then
  cat "$tmp/abidiff.txt"
  echo "api_check: the ABI changed; if intended, run scripts/api_check.sh --update and commit" >&2
  status=1
fi
[ "$status" = 0 ] && echo "api_check: public API and ABI match the snapshot"
exit "$status"
