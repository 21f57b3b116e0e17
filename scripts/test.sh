#!/usr/bin/env bash
# The one test command: formatting and the API snapshot, then the suite
# under gcc, ASan+UBSan, TSan, valgrind, a POSIX-only build and a 32-bit
# build, then the perf gate's self-test and quick gate 1. CI runs exactly
# this (.ci/run).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/test.sh [--quick] [--no-install] [--help]

Stages (each builds under build/<preset>/ and runs ctest there):
  format    scripts/format.sh --check
  api       scripts/api_check.sh (public API and ABI vs the snapshot)
  docs      scripts/docs.sh (Doxygen reference, warnings as errors; man
            pages; the documentation check)
  package   scripts/package_test.sh (install into a prefix; consumers
            built with CMake shared and static, and pkg-config + cc)
  gcc       gcc Debug build (-Werror), ctest            (preset debug)
  asan      clang ASan+UBSan build, ctest               (preset asan),
            then each fuzz target for $MMAPIO_FUZZ_SECONDS (default 20;
            5 with --quick) from its corpus (scripts/fuzz.sh), and the
            corpora's coverage of every library source file
            (scripts/fuzz_coverage.sh: fails on a file none reaches)
  tsan      clang TSan build, ctest                     (preset tsan)
  valgrind  memcheck over the Debug conformance binaries
  posix     POSIX-only build, ctest                     (preset posix)
  m32       32-bit build (gcc -m32), ctest              (preset m32; x86-64
            hosts with gcc-multilib; elsewhere SKIP, with the reason)
  conformance  the porter's report (scripts/port.sh --check) on the native
            build and on aarch64 with 64 KiB pages under qemu-user, written
            to build/conformance/ (the full matrix is port.sh's job)
  gate      scripts/test_gate.sh --synthetic-only, then scripts/main.sh --ci
            built under a directory that does not exist yet

  --quick       only the gcc and asan stages, with fewer crash-loop kills
                and shorter fuzzing
  --no-install  do not install missing Debian packages (only warn)
  -h, --help    this text

Every stage runs even if an earlier one failed. After the stages it
prints the run's figures (scripts/figures.sh): fault-injection points per
operation, fuzz runs and coverage per target, the public functions the
fuzzers reach, crash-loop kills with records acknowledged and lost, and
the full-disk cases run and skipped. The last line is
"N passed, N failed, N skipped" over the stages (a stage that cannot run
on this host says why and counts as skipped); the exit status is 0 only
when no stage failed.
EOF
}

quick=0
install=1
for arg in "$@"; do
  case $arg in
  --quick) quick=1 ;;
  --no-install) install=0 ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "test.sh: unknown argument '$arg'" >&2
    usage >&2
    exit 2
    ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# shellcheck source=scripts/deps.sh
. scripts/deps.sh

packages=(cmake make gcc g++ clang libclang-rt-14-dev binutils git
  catch2 libuv1-dev pkg-config valgrind clang-format abigail-tools python3
  doxygen man-db libc6-dev)
# The 32-bit stage builds with gcc -m32, which Debian ships for x86-64.
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
if [ "$arch" = amd64 ] || [ "$arch" = x86_64 ]; then
  packages+=(gcc-multilib g++-multilib)
fi
if [ "$install" -eq 1 ]; then
  rc=0
  deps_ensure "${packages[@]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "test.sh: required packages are missing (see above)" >&2
    exit "$rc"
  fi
else
  deps_ensure --check "${packages[@]}" ||
    echo "test.sh: --no-install: continuing without them" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)

banner() {
  echo
  echo "=================================================================="
  echo "== $*"
  echo "=================================================================="
}

# configure + build + ctest for one preset (see CMakePresets.json).
build_and_test() {
  local preset=$1
  cmake --preset "$preset" || return 1
  cmake --build --preset "$preset" --parallel "$jobs" || return 1
  [ "$preset" = debug ] && debug_built=1
  ctest --preset "$preset" || return 1
}

stage_format() { scripts/format.sh --check; }
stage_gcc() { build_and_test debug; }
stage_asan() {
  build_and_test asan || return 1
  local secs=${MMAPIO_FUZZ_SECONDS:-20}
  [ "$quick" -eq 1 ] && secs=${MMAPIO_FUZZ_SECONDS:-5}
  scripts/fuzz.sh --build build/asan --time "$secs" || return 1
  # What the committed corpora reach: every library source file, or fail.
  scripts/fuzz_coverage.sh --build build/fuzz-cov --summary
}
stage_tsan() { build_and_test tsan; }

# The Debug (gcc, uninstrumented) binaries under memcheck. Children of IPC
# tests are re-executed natively (--trace-children=no); tests tagged
# [valgrind-skip] are excluded, and so are hidden [.] tests, which an
# exclusion-only Catch2 filter would select. Memcheck runs one thread at a
# time, so each binary's tests are dealt into one shard per core, each
# shard a memcheck process of its own (its log under the test directory;
# a failing shard's log is printed).
valgrind_filter='~[valgrind-skip]~[.]~[touch]~[lock]~[hugepages]~[sparse]'
stage_valgrind() {
  if [ "${debug_built:-0}" -ne 1 ]; then
    echo "valgrind: the gcc Debug build did not succeed; nothing to run"
    return 1
  fi
  local dir=build/debug/conformance bin ran=0 status=0 k
  export MMAPIO_TEST_DIR="$root/$dir/testtmp"
  local logs="$MMAPIO_TEST_DIR/valgrind"
  rm -rf "$logs"
  mkdir -p "$logs"
  echo "(not under valgrind: [touch] [lock] [hugepages] [sparse]: they assert"
  echo "the kernel's residency, mlock and huge-page behaviour and reserve 1 TiB"
  echo "of address space, which valgrind emulates only in part; they run in the"
  echo "gcc, asan and tsan stages)"
  for bin in mmapio_conformance mmapio_seam_tests; do
    if [ ! -x "$dir/$bin" ]; then
      echo "valgrind: $dir/$bin not built"
      [ "$bin" = mmapio_conformance ] && status=1
      continue
    fi
    ran=$((ran + 1))
    # Test names as a -f file wants them: one a line, with the characters
    # Catch2's test specs treat specially escaped. (Listing exits with the
    # number of tests listed.)
    { "$dir/$bin" --list-test-names-only "$valgrind_filter" || true; } |
      sed '/^$/d' |
      sed 's/[][,*\\]/\\&/g' >"$logs/$bin.names"
    local total pids=()
    total=$(wc -l <"$logs/$bin.names")
    for ((k = 0; k < jobs; k++)); do
      awk -v n="$jobs" -v k="$k" 'NR % n == k' "$logs/$bin.names" \
        >"$logs/$bin.$k.names"
      [ -s "$logs/$bin.$k.names" ] || continue
      # No --track-origins: it costs seconds per gibibyte mapped (every
      # RW handle reserves one), about 2.7 s a test here; the errors are
      # found without it, and re-running one test with it tells where an
      # uninitialised value came from.
      valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
        --child-silent-after-fork=yes \
        --num-callers=30 --trace-children=no -q \
        "$dir/$bin" -d yes -f "$logs/$bin.$k.names" >"$logs/$bin.$k.log" 2>&1 &
      pids+=("$!:$k")
    done
    echo "--- valgrind $dir/$bin: $total tests in ${#pids[@]} shard(s)"
    local p
    for p in "${pids[@]}"; do
      k=${p#*:}
      if wait "${p%%:*}"; then
        echo "    shard $k: $(grep -E '^(All tests passed|test cases:)' \
          "$logs/$bin.$k.log" | tail -1); the slowest tests:"
        # -d yes: "<seconds> s: <test name>" per test (sections too).
        grep -E '^[0-9.]+ s: ' "$logs/$bin.$k.log" | sort -rn | head -3 |
          sed 's/^/      /' || true
      else
        status=1
        echo "    shard $k: FAILED; its log ($logs/$bin.$k.log):"
        cat "$logs/$bin.$k.log"
      fi
    done
  done
  [ "$ran" -gt 0 ] || status=1
  return "$status"
}

stage_posix() { build_and_test posix; }
# SPEC: a 32-bit build (32-bit size_t, 64-bit offsets) passes the suite.
stage_m32() {
  if [ "$arch" != amd64 ] && [ "$arch" != x86_64 ]; then
    echo "m32: SKIPPED: gcc -m32 is set up for x86-64 hosts only (this is $arch)"
    return 77
  fi
  # Some kernels run no 32-bit programs (IA32 emulation off, or a guest
  # that cannot enter 32-bit mode): then the build is still checked, and
  # the suite's run is skipped with the reason (scripts/port.sh runs it
  # under qemu-i386 instead).
  local probe
  probe=$(mktemp "${TMPDIR:-/tmp}/mmapio-m32.XXXXXX")
  local runs=0
  if printf 'int main(void) { return 0; }\n' | gcc -m32 -x c - -o "$probe" 2>/dev/null &&
    "$probe" 2>/dev/null; then
    runs=1
  fi
  rm -f "$probe"
  if [ "$runs" -eq 0 ]; then
    cmake --preset m32 || return 1
    cmake --build --preset m32 --parallel "$jobs" || return 1
    echo "m32: built; SKIPPED its run: this kernel ($(uname -r)) does not" \
      "execute i386 programs"
    return 77
  fi
  build_and_test m32
}
# The conformance report as a porter reads it, natively and for the most
# informative foreign target (another architecture, 16 times the page
# size): a failed test fails the stage; skips carry their reasons.
stage_conformance() {
  local flag=()
  [ "$install" -eq 1 ] || flag=(--no-install)
  scripts/port.sh "${flag[@]}" --check --out build/conformance \
    native aarch64-64k
}
stage_api() { scripts/api_check.sh --no-install; }
stage_docs() { scripts/docs.sh --no-install; }
stage_package() { scripts/package_test.sh --no-install; }
# The perf gate's own tests (it must fail a deliberately slowed run and
# pass identical ones), then gate 1 in its quick CI mode, built where a
# fresh clone would build it: under a directory that does not exist yet.
stage_gate() {
  scripts/test_gate.sh --synthetic-only || return 1
  local fresh rc=0
  fresh=$(mktemp -d "${TMPDIR:-/tmp}/mmapio-main-ci.XXXXXX")
  scripts/main.sh --ci --build-dir "$fresh/build/perf-release" || rc=$?
  rm -rf "$fresh"
  return "$rc"
}

stages=(format api docs package gcc asan tsan valgrind posix m32 conformance
  gate)
if [ "$quick" -eq 1 ]; then
  stages=(gcc asan)
  export MMAPIO_TEST_QUICK=1
fi
# Figures of an earlier run must not pass for this one's.
for d in build/*/figures build/*/conformance/testtmp/figures; do
  [ -d "$d" ] && rm -rf "$d"
done
declare -A title=(
  [format]="format check (scripts/format.sh --check)"
  [gcc]="gcc Debug build (-Werror) + ctest"
  [asan]="clang ASan+UBSan build + ctest, then fuzzing and fuzz coverage"
  [tsan]="clang TSan build + ctest"
  [valgrind]="valgrind memcheck of the conformance binaries"
  [posix]="POSIX-only build (Linux extensions compiled out) + ctest"
  [m32]="32-bit build (gcc -m32, 64-bit offsets) + ctest"
  [api]="public API and ABI against the committed snapshot"
  [docs]="API reference (Doxygen, 0 warnings), man pages, documentation check"
  [package]="install, then consumers via CMake (shared, static) and pkg-config"
  [conformance]="conformance reports: native, and aarch64 at 64 KiB pages (qemu)"
  [gate]="perf gate self-test and quick gate 1"
)

passed=0
failed=0
skipped=0
summary=()
i=0
for s in "${stages[@]}"; do
  i=$((i + 1))
  banner "[$i/${#stages[@]}] $s: ${title[$s]}"
  start=$SECONDS
  rc=0
  "stage_$s" || rc=$?
  secs=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    summary+=("PASS  $s (${secs}s)")
  elif [ "$rc" -eq 77 ]; then # the stage cannot run here; it said why
    skipped=$((skipped + 1))
    summary+=("SKIP  $s (${secs}s)")
  else
    failed=$((failed + 1))
    summary+=("FAIL  $s (${secs}s, status $rc)")
  fi
  verdict=FAILED
  [ "$rc" -eq 0 ] && verdict=passed
  [ "$rc" -eq 77 ] && verdict=skipped
  echo "== $s: $verdict in ${secs}s"
done

banner "figures of this run"
scripts/figures.sh || true
banner "summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
