#!/usr/bin/env bash
# Gate 2: this tree against a baseline commit, same machine, one job.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/gate2.sh [--base REV | --base-bin BIN --current-bin BIN]
                        [--rounds N] [--reps N] [--groups LIST] [--filter REGEX]
                        [--full] [--threshold F] [--with-cold] [--rerun-budget S]
                        [--family-size M] [--data-dir DIR] [--work DIR]
                        [--out PREFIX] [--no-deps]

Builds the perf harness of this tree twice, Release, in its standalone
form: once over this tree's lib/ (the work tree as it is, uncommitted
changes included) and once over lib/ of REV (default HEAD~1, the previous
commit), so that only the library differs. Then runs the groups in
rounds, alternating which build goes first (ABBA), so drift on the
machine hits both alike, and pools the repetitions: rounds x reps
samples per benchmark and build. scripts/gate.py gate2 judges the
library's rows, each by its ratio to its floor in each build (the floors
run the same code in both and are controls): a row more than F (default
0.15) slower on the medians is re-run alone with its floor, both builds
alternately, until the re-run decides (see gate.py), with the error rate
held over all rows (Holm). It names the rows that fail.

  --base REV      baseline commit (default HEAD~1)
  --base-bin BIN, --current-bin BIN
                  use these two harness binaries instead of building
                  (the gate's power test, scripts/test_gate.sh --power)
  --rounds N      alternating rounds (default 3)
  --reps N        repetitions per round (default 2)
  --groups LIST   groups to run (default: chunks,reads,touch,atomics,open;
                  flush and policy wait for the device, whose noise a
                  15 % gate cannot separate from change)
  --filter REGEX  run only the benchmarks matching REGEX (Google Benchmark's
                  --benchmark_filter)
  --full          full sizes (default: quick sizes)
  --with-cold     also judge the cold touch benchmarks, whose time comes
                  from the device (by default run and shown, not judged:
                  the device's own noise exceeds 15 % on a shared machine)
  --rerun-budget S  at most S seconds of re-runs (default 600)
  --family-size M judge as one of M rows (default: the rows compared)
  --data-dir DIR  where the data files go (default $MMAPIO_PERF_DIR or
                  /var/tmp)
  --work DIR      build and run directory (default build/gate2)
  --out PREFIX    verdict files PREFIX.json / PREFIX.junit.xml
                  (default reports/gate2)

Takes about 15 minutes on 2 cores with the defaults (two builds, then
3 rounds x 5 groups x 2 builds at quick sizes, then the re-runs).

Exit status: 0 pass, 1 regression, 2 harness error (including a baseline
that does not build).
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
base_rev=HEAD~1 rounds=3 reps=2 groups=chunks,reads,touch,atomics,open
quick=(--mmapio_quick) threshold=0.15 deps=1 base_bin="" current_bin=""
exclude=(--exclude '^BM_touch(_naive)?_cold_') filter=() family=() budget=600
data_dir=${MMAPIO_PERF_DIR:-/var/tmp}
work="$root/build/gate2"
out="$root/reports/gate2"
while [ "$#" -gt 0 ]; do
  case $1 in
  --base) base_rev=$2; shift ;;
  --base-bin) base_bin=$2; shift ;;
  --current-bin) current_bin=$2; shift ;;
  --rounds) rounds=$2; shift ;;
  --reps) reps=$2; shift ;;
  --groups) groups=$2; shift ;;
  --filter) filter=(--benchmark_filter="$2"); shift ;;
  --full) quick=() ;;
  --with-cold) exclude=() ;;
  --threshold) threshold=$2; shift ;;
  --rerun-budget) budget=$2; shift ;;
  --family-size) family=(--family-size "$2"); shift ;;
  --data-dir) data_dir=$2; shift ;;
  --work) work=$2; shift ;;
  --out) out=$2; shift ;;
  --no-deps) deps=0 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
fail() { echo "gate2.sh: $*" >&2; exit 2; }
case $work in /*) ;; *) work="$root/$work" ;; esac
if [ -n "$base_bin$current_bin" ] && { [ -z "$base_bin" ] || [ -z "$current_bin" ]; }; then
  fail "--base-bin and --current-bin go together"
fi

if [ "$deps" -eq 1 ]; then
  bash "$root/scripts/deps.sh" cmake ninja-build g++ pkg-config python3 git \
    libbenchmark-dev libboost-dev libglib2.0-dev || fail "missing packages"
fi
rm -rf "$work"
mkdir -p "$work/runs"

build() { # build NAME LIBROOT
  echo "gate2: building $1 (Release)"
  if ! cmake -S "$root/perf" -B "$work/build-$1" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DMMAPIO_PERF_LIB_ROOT="$2" \
    >"$work/build-$1.log" 2>&1 ||
    ! cmake --build "$work/build-$1" --target mmapio_perf \
      >>"$work/build-$1.log" 2>&1; then
    tail -n 30 "$work/build-$1.log" >&2
    fail "the $1 build failed ($work/build-$1.log)"
  fi
  grep "library side" "$work/build-$1.log" | sed "s/^-- /    $1: /" || true
}
if [ -n "$base_bin" ]; then
  echo "gate2: base = $base_bin, current = $current_bin (given, not built)"
else
  sha=$(git rev-parse --verify -q "$base_rev^{commit}") ||
    fail "no commit $base_rev"
  echo "gate2: base $base_rev = $(git log -1 --format='%h %s' "$sha")"
  echo "gate2: current = this work tree ($(git rev-parse --short HEAD)$(
    [ -n "$(git status --porcelain -- lib perf)" ] && echo ' + changes'))"
  mkdir -p "$work/base-src"
  git archive "$sha" lib | tar -x -C "$work/base-src" ||
    fail "cannot extract lib/ of $base_rev"
  build base "$work/base-src"
  build current "$root"
  base_bin="$work/build-base/mmapio_perf" current_bin="$work/build-current/mmapio_perf"
fi

IFS=, read -r -a glist <<<"$groups"
declare -A bins=([base]="$base_bin" [current]="$current_bin")
runone() { # runone NAME ROUND GROUP
  "${bins[$1]}" --mmapio_group="$3" "${quick[@]}" --mmapio_dir="$data_dir" \
    "${filter[@]}" --benchmark_repetitions="$reps" --benchmark_min_time=0.05 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="$work/runs/$1.$3.r$2.json" --benchmark_out_format=json \
    >"$work/runs/$1.$3.r$2.log" 2>&1 ||
    fail "$1 run of group $3 failed ($work/runs/$1.$3.r$2.log)"
}
t0=$(date +%s)
for r in $(seq 1 "$rounds"); do
  for g in "${glist[@]}"; do
    if [ $((r % 2)) -eq 1 ]; then order="base current"; else order="current base"; fi
    echo "gate2: round $r/$rounds, group $g: $order"
    for b in $order; do runone "$b" "$r" "$g"; done
  done
done
echo "gate2: rounds took $(($(date +%s) - t0)) s; judging (misses are re-run)"

# Both builds' files in the same order (round by round), so repetition k
# of round r pairs across builds.
rc=0
python3 "$root/scripts/gate.py" gate2 --threshold "$threshold" "${exclude[@]}" \
  "${family[@]}" --rerun-base-bin "$base_bin" --rerun-current-bin "$current_bin" \
  --rerun-args="--benchmark_min_time=0.05" --rerun-budget "$budget" \
  --rerun-dir "$work/reruns" --out "$out" \
  --base "$work"/runs/base.*.json --current "$work"/runs/current.*.json || rc=$?
echo "gate2: done in $(($(date +%s) - t0)) s after the builds"
exit "$rc"
