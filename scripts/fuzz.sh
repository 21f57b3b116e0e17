#!/usr/bin/env bash
# Fuzzes each target for a bounded time and prints its runs and coverage.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/fuzz.sh [--build DIR] [--time SECONDS] [--merge] [TARGET...]

Builds the libFuzzer targets in DIR (default build/asan, the clang
ASan+UBSan preset; any other DIR is configured as such) and runs each
TARGET (default: every one in fuzz/CMakeLists.txt) for SECONDS of wall
time (default $MMAPIO_FUZZ_SECONDS, else 30), one after the other, from a
scratch copy of its committed corpus fuzz/corpus/TARGET. Everything is
written under DIR/fuzz-run/ (the targets' own files under its tmp/).

Per target it prints the runs, the coverage libFuzzer reports at the end
(cov: edges, ft: features), the corpus and the seed, and writes that line
to DIR/figures/fuzz-TARGET.txt. A crash, leak, timeout (one input over
60 s), out-of-memory or sanitizer report fails the run: the input is kept
in DIR/fuzz-run/TARGET/ and named, with the end of the log.

  --merge  also merge what the run found into fuzz/corpus/TARGET, to
           commit: only inputs that reach new edges (libFuzzer -merge=1
           -use_counters=0), so the seeds stay few and small
EOF
}

build=build/asan
secs=${MMAPIO_FUZZ_SECONDS:-30}
merge=0
targets=()
while [ $# -gt 0 ]; do
  case $1 in
  --build)
    build=$2
    shift 2
    ;;
  --time)
    secs=$2
    shift 2
    ;;
  --merge)
    merge=1
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  -*)
    usage >&2
    exit 2
    ;;
  *)
    targets+=("$1")
    shift
    ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ ${#targets[@]} -eq 0 ]; then
  read -r -a targets <<<"$(sed -n '/^set(MMAPIO_FUZZ_TARGETS/,/)/p' \
    fuzz/CMakeLists.txt | tr -d '()' | tr ' ' '\n' | grep '^fuzz_' | xargs)"
fi

if [ "$build" = build/asan ]; then
  cmake --preset asan >/dev/null
else
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=Debug -DMMAPIO_SANITIZE=address,undefined \
    -DMMAPIO_BUILD_FUZZ=ON >/dev/null
fi
cmake --build "$build" --parallel 2 --target "${targets[@]}" >/dev/null

run="$build/fuzz-run"
mkdir -p "$run" "$build/figures"
failed=0
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  dir="$run/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/tmp"
  cp fuzz/corpus/"$t"/* "$dir/corpus/" 2>/dev/null || true
  seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  rc=0
  TMPDIR="$dir/tmp" "$bin" -max_total_time="$secs" -timeout=60 \
    -rss_limit_mb=4096 -seed="$seed" -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1 || true)
  cov=$(printf '%s' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  corp=$(printf '%s' "$done_line" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
  line="fuzz $t: ${runs:-?} runs in ${secs}s, cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?}, seed $seed"
  if [ "$rc" -ne 0 ]; then
    line="fuzz $t: FAILED (status $rc) after ${runs:-?} runs, seed $seed"
    failed=1
  fi
  echo "$line"
  echo "$line" >"$build/figures/fuzz-$t.txt"
  if [ "$rc" -ne 0 ]; then
    echo "--- the end of $dir/log:"
    tail -40 "$dir/log"
    for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
      [ -e "$a" ] && echo "--- reproduce: $bin $a  (or ${t}_replay $a)"
    done
    continue
  fi
  if [ "$merge" -eq 1 ]; then
    mkdir -p "fuzz/corpus/$t"
    TMPDIR="$dir/tmp" "$bin" -merge=1 -use_counters=0 "fuzz/corpus/$t" "$dir/corpus" \
      >"$dir/merge.log" 2>&1
    echo "    merged: $(ls "fuzz/corpus/$t" | wc -l) inputs in fuzz/corpus/$t"
  fi
done
exit "$failed"
