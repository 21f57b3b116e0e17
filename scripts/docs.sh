#!/usr/bin/env bash
# usage: scripts/docs.sh [--no-install]
#
# Generates the API reference from lib/include/mmapio.h with Doxygen, any
# warning being an error (WARN_AS_ERROR), into build/docs/docs/:
#   html/index.html   the reference (open it in a browser)
#   man/man3/         the man pages, which `cmake --install` installs when
#                     configured with -DMMAPIO_BUILD_DOCS=ON
# Then checks that every public function has a man page and runs the
# documentation check (scripts/check_error_tests.py: summaries, Errors
# lists, one test per listed error). --no-install: do not install missing
# Debian packages, only report them.
set -euo pipefail
install=1
for arg in "$@"; do
  case $arg in
  --no-install) install=0 ;;
  -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "docs.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
pkgs=(cmake make gcc doxygen python3)
if [ "$install" = 1 ]; then deps_ensure "${pkgs[@]}"; else deps_ensure --check "${pkgs[@]}"; fi

build=build/docs
out=$build/docs
cmake -S . -B "$build" -DMMAPIO_BUILD_TESTS=OFF -DMMAPIO_BUILD_DOCS=ON >/dev/null
# Doxygen prints its warnings on stderr and fails on the first run that has
# any; keep them to count them.
if ! cmake --build "$build" --target docs 2> >(tee "$build/doxygen.log" >&2); then
  n=$(grep -E '^[^ ]+:[0-9]+: (warning|error): ' "$build/doxygen.log" | sort -u | wc -l)
  echo "docs: Doxygen failed: $n warning(s) (above)" >&2
  exit 1
fi
echo "docs: $out/html/index.html ($(find "$out/html" -name '*.html' | wc -l) pages," \
  "0 Doxygen warnings), $(find "$out/man/man3" -type f | wc -l) man pages"

# Every public function (exported or static inline, api/public-api.txt)
# has a man page of its own name.
missing=0
while read -r fn; do
  if [ ! -f "$out/man/man3/$fn.3" ]; then
    echo "docs: no man page for $fn" >&2
    missing=$((missing + 1))
  fi
done < <(grep -o '\bmmapio_[a-z0-9_]*[a-z0-9] *(' api/public-api.txt |
  tr -d ' (' | sort -u)
[ "$missing" -eq 0 ] || exit 1

python3 scripts/check_error_tests.py lib/include/mmapio.h conformance
