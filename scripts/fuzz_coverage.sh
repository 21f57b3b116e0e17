#!/usr/bin/env bash
# What the committed fuzz corpora reach: every library source file's
# coverage, and the public functions executed.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/fuzz_coverage.sh [--build DIR] [--summary]

Builds the fuzz targets' replay drivers with clang's source-based
coverage (-fprofile-instr-generate -fcoverage-mapping) in DIR (default
build/fuzz-cov), replays every committed corpus (fuzz/corpus/TARGET), and
prints line and function coverage per library source file (llvm-cov
report), then the public functions executed (N of M) and the ones none
executed. Fails when a library source file is not reached at all
(none of its functions runs; unix/syscalls.c, the seam tests' hooks,
aside).
--summary  also writes the totals to DIR/figures/fuzz_coverage.txt
EOF
}

build=build/fuzz-cov
summary=0
while [ $# -gt 0 ]; do
  case $1 in
  --build)
    build=$2
    shift 2
    ;;
  --summary)
    summary=1
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ver=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')
profdata=$(command -v "llvm-profdata-$ver" || command -v llvm-profdata)
cov=$(command -v "llvm-cov-$ver" || command -v llvm-cov)

targets=$(sed -n '/^set(MMAPIO_FUZZ_TARGETS/,/)/p' fuzz/CMakeLists.txt |
  tr -d '()' | tr ' ' '\n' | grep '^fuzz_' || true)
[ -n "$targets" ] || {
  echo "fuzz_coverage: no targets in fuzz/CMakeLists.txt" >&2
  exit 1
}

flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DMMAPIO_BUILD_FUZZ=ON -DMMAPIO_BUILD_TESTS=OFF \
  "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=$flags" >/dev/null
replays=()
for t in $targets; do replays+=("${t}_replay"); done
cmake --build "$build" --parallel 2 --target "${replays[@]}" >/dev/null

rm -rf "$build/prof" "$build/tmp"
mkdir -p "$build/prof" "$build/tmp" "$build/figures"
objects=()
for t in $targets; do
  LLVM_PROFILE_FILE="$build/prof/$t-%p.profraw" TMPDIR="$build/tmp" \
    "$build/fuzz/${t}_replay" "fuzz/corpus/$t" | sed "s/^/$t: /"
  # llvm-cov takes the first binary as is, the others after -object.
  [ ${#objects[@]} -eq 0 ] || objects+=(-object)
  objects+=("$build/fuzz/${t}_replay")
done
"$profdata" merge -sparse "$build"/prof/*.profraw -o "$build/fuzz.profdata"

echo
echo "Library source files, over every corpus replayed:"
"$cov" report "${objects[@]}" -instr-profile="$build/fuzz.profdata" \
  lib/src/*.c lib/src/unix/*.c | sed "s|$root/||" | tee "$build/coverage.txt"

# A file none of the corpora reaches has none of its functions executed
# (columns 5 and 6 of llvm-cov's report: functions, missed functions).
# unix/syscalls.c is left out: its table is data every call goes through,
# and its functions are the seam tests' hooks, which no fuzzer calls.
unreached=$(awk '$1 ~ /\.c$/ && $1 != "unix/syscalls.c" && $5 > 0 &&
  $5 == $6 {print $1}' "$build/coverage.txt" || true)

# Functions executed, from the lcov export: FNDA:<count>,<name> (a static
# inline function of the header is named <file>:<name>).
"$cov" export -format=lcov "${objects[@]}" \
  -instr-profile="$build/fuzz.profdata" |
  sed -n 's/^FNDA:\([1-9][0-9]*\),\(.*:\)\{0,1\}\(mmapio_[A-Za-z0-9_]*\)$/\3/p' |
  sort -u >"$build/executed.txt"
echo
python3 scripts/fuzz_reach.py --executed "$build/executed.txt" \
  lib/include/mmapio.h fuzz | sed -n '1p;/^not /p'

total=$(awk '$1 == "TOTAL" {print "regions " $4 ", functions " $7 ", lines " $10}' \
  "$build/coverage.txt")
echo
echo "fuzz coverage of lib/src: $total"
if [ "$summary" -eq 1 ]; then
  {
    echo "fuzz coverage of lib/src (replayed corpora): $total"
    python3 scripts/fuzz_reach.py --executed "$build/executed.txt" \
      lib/include/mmapio.h fuzz | sed -n '1s/^/fuzz reach at run time: /p'
  } >"$build/figures/fuzz_coverage.txt"
fi
if [ -n "$unreached" ]; then
  echo "fuzz_coverage: no corpus reaches: $unreached" >&2
  exit 1
fi
