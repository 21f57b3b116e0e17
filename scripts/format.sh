#!/usr/bin/env bash
# Checks or fixes the formatting of the project's C and C++ files.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/format.sh --check | --fix [FILE...]

  --check  report files that clang-format would change; exit 1 if any
  --fix    rewrite them in place

Without FILE arguments: every *.c *.h *.cpp *.hpp under lib/ conformance/
perf/ fuzz/ examples/ that git tracks or that is untracked but not ignored.
The style is .clang-format at the repository root; CLANG_FORMAT overrides the
clang-format binary (default: clang-format, version 14 on Debian 12).
EOF
}

mode=""
case "${1:-}" in
--check | --fix) mode=$1 ;;
-h | --help)
  usage
  exit 0
  ;;
*)
  usage >&2
  exit 2
  ;;
esac
shift

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "format.sh: $clang_format not found (Debian package clang-format)" >&2
  exit 2
fi

files=()
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  dirs=()
  for d in lib conformance perf fuzz examples; do
    [ -d "$d" ] && dirs+=("$d")
  done
  if [ "${#dirs[@]}" -gt 0 ]; then
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      list() {
        git ls-files -z --cached --others --exclude-standard -- "${dirs[@]}"
      }
    else
      list() { find "${dirs[@]}" -type f -print0; }
    fi
    while IFS= read -r -d '' f; do
      case $f in
      *.c | *.h | *.cpp | *.hpp)
        # --cached still lists a tracked file deleted from the work tree.
        [ -f "$f" ] && files+=("$f")
        ;;
      esac
    done < <(list | sort -zu)
  fi
fi

if [ "${#files[@]}" -eq 0 ]; then
  echo "format.sh: no C/C++ files to check"
  exit 0
fi

if [ "$mode" = --fix ]; then
  "$clang_format" --style=file -i -- "${files[@]}"
  echo "format.sh: formatted ${#files[@]} file(s) with $("$clang_format" --version)"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  if ! out=$("$clang_format" --style=file --dry-run -Werror -- "$f" 2>&1); then
    bad+=("$f")
    # The first few findings are enough to see what is wrong.
    printf '%s\n' "$out" | head -n 12
  fi
done

if [ "${#bad[@]}" -gt 0 ]; then
  echo
  echo "format.sh: ${#bad[@]} of ${#files[@]} file(s) need formatting:"
  printf '  %s\n' "${bad[@]}"
  echo "run scripts/format.sh --fix"
  exit 1
fi
echo "format.sh: ${#files[@]} file(s) formatted correctly"
