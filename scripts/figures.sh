#!/usr/bin/env bash
# Prints the figures the last run recorded: fuzzing, fuzz reach and
# coverage, the crash loop, the full-disk cases.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/figures.sh [BUILD_DIR...]

Prints every figure recorded under each BUILD_DIR (default: every
directory in build/), grouped by build: the one-line files in
BUILD_DIR/figures/ (scripts/fuzz.sh, scripts/fuzz_coverage.sh, the
fuzz_reach test) and BUILD_DIR/conformance/testtmp/figures/ (the crash
loop; the full-disk cases, counted as run and skipped, with the reasons).
Prints nothing for a build without figures; never fails.
EOF
}

case "${1:-}" in
-h | --help)
  usage
  exit 0
  ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
builds=("$@")
if [ ${#builds[@]} -eq 0 ]; then
  for d in build/*/; do builds+=("${d%/}"); done
fi

for b in "${builds[@]}"; do
  files=()
  for d in "$b/figures" "$b/conformance/testtmp/figures"; do
    [ -d "$d" ] || continue
    for f in "$d"/*.txt; do
      [ -e "$f" ] && files+=("$f")
    done
  done
  [ ${#files[@]} -gt 0 ] || continue
  echo "== $b"
  ran=0
  skipped=0
  reasons=()
  for f in "${files[@]}"; do
    line=$(head -1 "$f")
    case $(basename "$f") in
    enospc-*)
      case $line in
      *": ran") ran=$((ran + 1)) ;;
      *) skipped=$((skipped + 1)) && reasons+=("$line") ;;
      esac
      ;;
    *) echo "  $line" ;;
    esac
  done
  if [ $((ran + skipped)) -gt 0 ]; then
    echo "  full-disk cases: $ran run, $skipped skipped"
    for r in "${reasons[@]+"${reasons[@]}"}"; do echo "    $r"; done
  fi
done
