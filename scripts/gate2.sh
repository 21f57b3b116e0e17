#!/usr/bin/env bash
# Gate 2: this tree against a baseline commit, same machine, one job.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/gate2.sh [--base REV] [--rounds N] [--reps N] [--groups LIST]
                        [--full] [--threshold F] [--with-cold] [--work DIR]
                        [--out PREFIX] [--no-deps]

Builds the perf harness of this tree twice, Release, in its standalone
form: once over this tree's lib/ (the work tree as it is, uncommitted
changes included) and once over lib/ of REV (default HEAD~1, the previous
commit), so that only the library differs. Then runs the groups in
rounds, alternating which build goes first (ABBA), so drift on the
machine hits both alike, and pools the repetitions: rounds x reps
samples per benchmark and build. scripts/gate.py gate2 fails a benchmark
whose median is more than F slower (default 0.15) with a one-sided
Mann-Whitney test below 0.05, and names it.

  --base REV      baseline commit (default HEAD~1)
  --rounds N      alternating rounds (default 3)
  --reps N        repetitions per round (default 2)
  --groups LIST   groups to run (default: chunks,reads,touch,atomics,open;
                  flush and policy wait for the device, whose noise a
                  15 % gate cannot separate from change)
  --full          full sizes (default: quick sizes)
  --with-cold     also judge the cold touch benchmarks, whose time comes
                  from the device (by default run and shown, not judged:
                  the device's own noise exceeds 15 % on a shared machine)
  --work DIR      build and run directory (default build/gate2)
  --out PREFIX    verdict files PREFIX.json / PREFIX.junit.xml
                  (default reports/gate2)

Takes about 15 minutes on 2 cores with the defaults (two builds, then
3 rounds x 5 groups x 2 builds at quick sizes).

Exit status: 0 pass, 1 regression, 2 harness error (including a baseline
that does not build).
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
base_rev=HEAD~1 rounds=3 reps=2 groups=chunks,reads,touch,atomics,open
quick=(--mmapio_quick) threshold=0.15 deps=1
exclude=(--exclude '^BM_touch(_naive)?_cold_')
work="$root/build/gate2"
out="$root/reports/gate2"
while [ "$#" -gt 0 ]; do
  case $1 in
  --base) base_rev=$2; shift ;;
  --rounds) rounds=$2; shift ;;
  --reps) reps=$2; shift ;;
  --groups) groups=$2; shift ;;
  --full) quick=() ;;
  --with-cold) exclude=() ;;
  --threshold) threshold=$2; shift ;;
  --work) work=$2; shift ;;
  --out) out=$2; shift ;;
  --no-deps) deps=0 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
  esac
  shift
done
fail() { echo "gate2.sh: $*" >&2; exit 2; }

if [ "$deps" -eq 1 ]; then
  bash "$root/scripts/deps.sh" cmake ninja-build g++ pkg-config python3 git \
    libbenchmark-dev libboost-dev libglib2.0-dev || fail "missing packages"
fi
sha=$(git rev-parse --verify -q "$base_rev^{commit}") ||
  fail "no commit $base_rev"
echo "gate2: base $base_rev = $(git log -1 --format='%h %s' "$sha")"
echo "gate2: current = this work tree ($(git rev-parse --short HEAD)$(
  [ -n "$(git status --porcelain -- lib perf)" ] && echo ' + changes'))"

rm -rf "$work"
mkdir -p "$work/base-src" "$work/runs"
git archive "$sha" lib | tar -x -C "$work/base-src" ||
  fail "cannot extract lib/ of $base_rev"

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
build base "$work/base-src"
build current "$root"

IFS=, read -r -a glist <<<"$groups"
runone() { # runone NAME ROUND GROUP
  "$work/build-$1/mmapio_perf" --mmapio_group="$3" "${quick[@]}" \
    --benchmark_repetitions="$reps" --benchmark_min_time=0.05 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="$work/runs/$1.$3.r$2.json" --benchmark_out_format=json \
    >"$work/runs/$1.$3.r$2.log" 2>&1 ||
    fail "$1 run of group $3 failed ($work/runs/$1.$3.r$2.log)"
}
for r in $(seq 1 "$rounds"); do
  for g in "${glist[@]}"; do
    if [ $((r % 2)) -eq 1 ]; then order="base current"; else order="current base"; fi
    echo "gate2: round $r/$rounds, group $g: $order"
    for b in $order; do runone "$b" "$r" "$g"; done
  done
done

rc=0
python3 "$root/scripts/gate.py" gate2 --threshold "$threshold" "${exclude[@]}" \
  --min-samples "$((rounds * reps > 5 ? 5 : rounds * reps))" --out "$out" \
  --base "$work"/runs/base.*.json --current "$work"/runs/current.*.json || rc=$?
exit "$rc"
