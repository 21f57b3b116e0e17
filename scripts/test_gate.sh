#!/usr/bin/env bash
# The gates' own tests: a gate that cannot fail is no gate.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/test_gate.sh [--synthetic-only] [--build-dir DIR] [--keep]

1. Synthetic (seconds): scripts/gate.py fed hand-made Google Benchmark
   JSON must pass a good run, fail a run whose iterator or touch path is
   slow (naming it), skip (not pass) checks whose API is absent, report a
   harness error for missing, errored or unreadable input; gate 2 must
   pass two identical runs and noise, and fail a consistent 30 % slowdown.
2. Real (a few minutes; skipped with --synthetic-only): builds the
   harness (Release) and its deliberately slowed twin (mmapio_perf_slowed:
   zero-copy chunks copy every chunk, touch_pages becomes a lock and a
   read_into per page), runs the gated benchmarks with each, and checks
   that gate 1 and gate 2 fail the slowed run and name the slowed
   benchmarks, and that gate 2 passes two interleaved runs of the same
   build and two identical runs.

Ends with "N passed, N failed"; exit status 0 when all passed.
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
synthetic_only=0 keep=0
build="$root/build/perf-release"
while [ "$#" -gt 0 ]; do
  case $1 in
  --synthetic-only) synthetic_only=1 ;;
  --build-dir) build=$2; shift ;;
  --keep) keep=1 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
case $build in /*) ;; *) build="$root/$build" ;; esac

gate=(python3 "$root/scripts/gate.py")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmapio-test-gate.XXXXXX")
[ "$keep" -eq 1 ] || trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0

# expect NAME STATUS [GREP] -- COMMAND...: runs COMMAND, wants exit STATUS
# and, if GREP is not empty, a line of its output matching GREP.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local rc=0
  "$@" >"$tmp/out" 2>&1 || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL  $name: exit $rc, expected $want"
    sed 's/^/      /' "$tmp/out" | tail -n 15
    failed=$((failed + 1))
  elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/out"; then
    echo "FAIL  $name: no line matching /$pattern/"
    sed 's/^/      /' "$tmp/out" | tail -n 15
    failed=$((failed + 1))
  else
    echo "ok    $name"
    passed=$((passed + 1))
  fi
}

# fixture FILE MISSING_APIS < "NAME ns ns ns..." lines: Google Benchmark
# JSON with one iteration entry per value (cpu and real time alike), and
# "NAME error MESSAGE" for a benchmark that failed its own check.
fixture() {
  awk -v missing="$2" '
    BEGIN { printf "{\n \"context\": {\"mmapio_apis_missing\": \"%s\", \"mmapio_slowed\": \"0\"},\n \"benchmarks\": [", missing; n = 0 }
    NF >= 2 {
      if ($2 == "error") {
        msg = $3; for (i = 4; i <= NF; i++) msg = msg " " $i
        printf "%s\n  {\"name\": \"%s\", \"run_name\": \"%s\", \"run_type\": \"iteration\", \"error_occurred\": true, \"error_message\": \"%s\"}", (n++ ? "," : ""), $1, $1, msg
        next
      }
      for (i = 2; i <= NF; i++)
        printf "%s\n  {\"name\": \"%s\", \"run_name\": \"%s\", \"run_type\": \"iteration\", \"repetition_index\": %d, \"iterations\": 100, \"real_time\": %s, \"cpu_time\": %s, \"time_unit\": \"ns\"}", (n++ ? "," : ""), $1, $1, i - 2, $i, $i
    }
    END { printf "\n ]\n}\n" }' >"$1"
}

good_run() {
  cat <<'EOF'
BM_chunks_floor/16777216/4096 25000 25100 24900
BM_chunks_owned_floor/16777216/4096 320000 321000 319000
BM_chunks_mmapio/16777216/4096 26000 26100 25900
BM_chunks_owned_mmapio/16777216/4096 330000 331000 329000
BM_chunks_floor/16777216/65536 800 810 790
BM_chunks_owned_floor/16777216/65536 450000 451000 449000
BM_chunks_mmapio/16777216/65536 850 860 840
BM_chunks_owned_mmapio/16777216/65536 455000 456000 454000
BM_touch_warm_floor/1048576 2000 2010 1990
BM_touch_warm_floor_populate/1048576 60000 60100 59900
BM_touch_warm_mmapio/1048576 2100 2110 2090
BM_touch_naive_warm_floor/1048576 2000 2010 1990
BM_touch_naive_warm_mmapio/1048576 2600 2610 2590
BM_touch_cold_floor/1048576/manual_time 1500000 1510000 1490000
BM_touch_cold_floor_populate/1048576/manual_time 1400000 1410000 1390000
BM_touch_cold_mmapio/1048576/manual_time 1450000 1460000 1440000
BM_touch_naive_cold_floor/1048576/manual_time 1600000 1610000 1590000
BM_touch_naive_cold_mmapio/1048576/manual_time 1700000 1710000 1690000
BM_touch_sparse_floor/1048576/manual_time 300000 301000 299000
BM_touch_sparse_floor_populate/1048576/manual_time 600000 601000 599000
BM_touch_sparse_mmapio/1048576/manual_time 310000 311000 309000
BM_touch_naive_sparse_floor/1048576/manual_time 330000 331000 329000
BM_touch_naive_sparse_mmapio/1048576/manual_time 380000 381000 379000
EOF
}

echo "== synthetic: gate 1"
good_run | fixture "$tmp/good.json" ""
expect "gate1 passes a good run" 0 "gate1: PASS" -- \
  "${gate[@]}" gate1 --out "$tmp/g1" "$tmp/good.json"
expect "gate1 writes JSON and JUnit" 0 "" -- \
  python3 -c "import json,sys,xml.dom.minidom as x; json.load(open(sys.argv[1])); x.parse(sys.argv[2])" \
  "$tmp/g1.json" "$tmp/g1.junit.xml"

good_run | sed 's|^BM_chunks_mmapio/16777216/4096 .*|BM_chunks_mmapio/16777216/4096 300000 301000 299000|' |
  fixture "$tmp/slow-chunks.json" ""
expect "gate1 fails a slowed iterator and names it" 1 \
  "^FAIL +chunks_zero_copy_4k /16777216/4096" -- \
  "${gate[@]}" gate1 "$tmp/slow-chunks.json"

good_run | sed 's|^BM_touch_warm_mmapio/1048576 .*|BM_touch_warm_mmapio/1048576 20000 20100 19900|' |
  fixture "$tmp/slow-touch.json" ""
expect "gate1 fails a slowed touch_pages and names it" 1 \
  "^FAIL +touch_vs_naive_warm /1048576" -- \
  "${gate[@]}" gate1 "$tmp/slow-touch.json"

good_run | sed 's|^BM_touch_cold_mmapio/1048576/manual_time .*|BM_touch_cold_mmapio/1048576/manual_time 1700000 1710000 1690000|' |
  fixture "$tmp/slow-cold.json" ""
expect "gate1 fails touch_pages 1.2x over its floor (target 1.15)" 1 \
  "^FAIL +touch_cold/1048576/manual_time" -- \
  "${gate[@]}" gate1 "$tmp/slow-cold.json"

good_run | sed 's|^BM_touch_cold_mmapio/1048576/manual_time .*|BM_touch_cold_mmapio/1048576/manual_time 9000000 9000000 9000000|' |
  fixture "$tmp/quick-cold.json" ""
sed -i 's|"mmapio_slowed": "0"|"mmapio_slowed": "0", "mmapio_quick": "1"|' "$tmp/quick-cold.json"
expect "gate1 skips cold-from-device checks in a quick run, and says so" 0 \
  "^SKIP +touch_vs_naive_cold +quick run" -- "${gate[@]}" gate1 "$tmp/quick-cold.json"
expect "gate1 still fails that slow cold path in a full run" 1 "^FAIL +touch_cold/1048576" -- \
  "${gate[@]}" gate1 "$tmp/slow-cold.json"

good_run | grep -v '^BM_touch_.*_mmapio' | fixture "$tmp/no-touch-api.json" "touch"
expect "gate1 skips (not passes) checks whose API is absent" 0 "^SKIP +touch_vs_naive_warm" -- \
  "${gate[@]}" gate1 "$tmp/no-touch-api.json"

good_run | grep -v '^BM_touch_warm_mmapio' | fixture "$tmp/missing.json" ""
expect "gate1: a gated benchmark missing is a harness error" 2 "^ERROR +touch" -- \
  "${gate[@]}" gate1 "$tmp/missing.json"

{ good_run; printf '%s\n' "BM_touch_warm_floor/8388608 16000 16100" \
  "BM_touch_warm_floor_populate/8388608 480000 481000" \
  "BM_touch_naive_warm_floor/8388608 16000 16100" \
  "BM_touch_naive_warm_mmapio/8388608 20000 20100"; } | fixture "$tmp/size-missing.json" ""
expect "gate1: a size the floors ran and the library did not is a harness error" 2 \
  "^ERROR +touch_vs_naive_warm /8388608" -- "${gate[@]}" gate1 "$tmp/size-missing.json"

{ good_run | grep -v '^BM_chunks_mmapio/16777216/4096'; echo "BM_chunks_mmapio/16777216/4096 error not warm"; } |
  fixture "$tmp/errored.json" ""
expect "gate1: a gated benchmark that errored is a harness error" 2 "errored: not warm" -- \
  "${gate[@]}" gate1 "$tmp/errored.json"

echo '{"benchmarks": [' >"$tmp/bad.json"
expect "gate1: unreadable input is a harness error" 2 "ERROR \(harness\)" -- \
  "${gate[@]}" gate1 "$tmp/bad.json"

echo "== synthetic: gate 2"
cat >"$tmp/base.txt" <<'EOF'
BM_chunks_mmapio/16777216/4096 100 103 97 101 99 104 96 102 98
BM_rand_view_mmapio/64 10 10.4 9.7 10.1 9.9 10.3 9.6 10.2 9.8
BM_touch_warm_mmapio/1048576 2000 2080 1950 2010 1990 2060 1940 2030 1970
EOF
fixture "$tmp/base.json" "" <"$tmp/base.txt"
expect "gate2 passes two identical runs" 0 "gate2: PASS" -- \
  "${gate[@]}" gate2 --base "$tmp/base.json" --current "$tmp/base.json" --out "$tmp/g2"
cat >"$tmp/noise.txt" <<'EOF'
BM_chunks_mmapio/16777216/4096 104 96 108 99 93 101 106 97 100
BM_rand_view_mmapio/64 9.5 10.6 10.0 9.8 10.7 9.4 10.2 10.1 9.9
BM_touch_warm_mmapio/1048576 1900 2150 2000 2050 1920 2100 1980 2010 2040
EOF
fixture "$tmp/noise.json" "" <"$tmp/noise.txt"
expect "gate2 passes noise (±8 %) without change" 0 "gate2: PASS" -- \
  "${gate[@]}" gate2 --base "$tmp/base.json" --current "$tmp/noise.json"
awk '$1 == "BM_touch_warm_mmapio/1048576" { for (i = 2; i <= NF; i++) $i = $i * 1.3 } 1' \
  "$tmp/noise.txt" | fixture "$tmp/slower.json" ""
expect "gate2 fails a 30 % slowdown and names it" 1 \
  "^FAIL +BM_touch_warm_mmapio/1048576 .*more than 15 % slower" -- \
  "${gate[@]}" gate2 --base "$tmp/base.json" --current "$tmp/slower.json"
awk '$1 == "BM_rand_view_mmapio/64" { for (i = 2; i <= NF; i++) $i = $i * 1.1 } 1' \
  "$tmp/noise.txt" | fixture "$tmp/ten.json" ""
expect "gate2 passes a 10 % slowdown (under the 15 % threshold)" 0 "gate2: PASS" -- \
  "${gate[@]}" gate2 --base "$tmp/base.json" --current "$tmp/ten.json"
awk 'NF { print $1, $2, $3, $4 }' "$tmp/base.txt" | fixture "$tmp/few.json" ""
expect "gate2: too few samples to compare is a harness error" 2 "enough samples" -- \
  "${gate[@]}" gate2 --base "$tmp/few.json" --current "$tmp/few.json"

if [ "$synthetic_only" -eq 1 ]; then
  echo "(real runs skipped: --synthetic-only)"
else
  echo "== real: the harness and its slowed twin (Release, quick sizes)"
  if grep -q MMAPIO_BUILD_PERF "$root/CMakeLists.txt" 2>/dev/null; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMMAPIO_BUILD_PERF=ON -DMMAPIO_BUILD_TESTS=OFF -DMMAPIO_WERROR=OFF >"$tmp/configure.log" 2>&1
    bindir="$build/perf"
  else
    cmake -S "$root/perf" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMMAPIO_PERF_LIB_ROOT="$root" >"$tmp/configure.log" 2>&1
    bindir="$build"
  fi
  cmake --build "$build" --target mmapio_perf mmapio_perf_slowed >"$tmp/build.log" 2>&1 || {
    tail -n 30 "$tmp/build.log"
    echo "0 passed, 1 failed (the harness does not build)"
    exit 1
  }
  filter='^BM_(chunks|chunks_owned|touch_warm|touch_cold|touch_sparse|touch_naive_warm|touch_naive_cold|touch_naive_sparse)_'
  run() { # run BINARY OUT REPETITIONS
    "$bindir/$1" --mmapio_group=chunks,touch --mmapio_quick \
      --benchmark_filter="$filter" --benchmark_repetitions="$3" \
      --benchmark_min_time=0.05 --benchmark_enable_random_interleaving=true \
      --benchmark_out="$2" --benchmark_out_format=json >"$2.log" 2>&1
  }
  echo "   running the normal build as A and B, interleaved (A B B A), and the slowed build"
  run mmapio_perf "$tmp/a1.json" 3
  run mmapio_perf "$tmp/b1.json" 3
  run mmapio_perf_slowed "$tmp/slowed.json" 5
  run mmapio_perf "$tmp/b2.json" 3
  run mmapio_perf "$tmp/a2.json" 3
  missing=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"].get("mmapio_apis_missing",""))' "$tmp/a1.json")
  if [ -n "$missing" ]; then
    echo "note  library APIs not in this build: $missing (their checks are skipped)"
  fi
  if [ "$missing" = "iterators,touch" ] || [ "$missing" = "touch,iterators" ]; then
    echo "SKIP  real slowed-run tests: neither gated library path is in this build"
    skipped=$((skipped + 3))
  else
    expect "gate1 fails the slowed build" 1 "^FAIL +(chunks|touch)" -- \
      "${gate[@]}" gate1 "$tmp/slowed.json"
    expect "gate2 fails the slowed build against the normal one and names it" 1 \
      "^FAIL +BM_(chunks|pages|touch_[a-z]+)_mmapio" -- \
      "${gate[@]}" gate2 --base "$tmp/a1.json" "$tmp/a2.json" --current "$tmp/slowed.json"
  fi
  expect "gate2 passes one run fed as both base and current" 0 "gate2: PASS" -- \
    "${gate[@]}" gate2 --base "$tmp/a1.json" "$tmp/a2.json" \
    --current "$tmp/a1.json" "$tmp/a2.json"
  # As scripts/gate2.sh judges it: interleaved, cold-from-device excluded.
  expect "gate2 passes two interleaved runs of the same build" 0 "gate2: PASS" -- \
    "${gate[@]}" gate2 --exclude '^BM_touch(_naive)?_cold_' \
    --base "$tmp/a1.json" "$tmp/a2.json" --current "$tmp/b1.json" "$tmp/b2.json"
  # Gate 1 on a normal run depends on the machine's noise; shown, not judged.
  rc=0
  "${gate[@]}" gate1 "$tmp/a1.json" "$tmp/a2.json" >"$tmp/g1a.out" 2>&1 || rc=$?
  echo "info  gate1 on a normal run: exit $rc ($(tail -n 1 "$tmp/g1a.out" | cut -c1-70))"
fi

echo
if [ "$skipped" -gt 0 ]; then
  echo "test_gate: $passed passed, $failed failed, $skipped skipped"
else
  echo "test_gate: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
