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
  gcc       gcc Debug build (-Werror), ctest            (preset debug)
  asan      clang ASan+UBSan build, ctest               (preset asan)
  tsan      clang TSan build, ctest                     (preset tsan)
  valgrind  memcheck over the Debug conformance binaries
  posix     POSIX-only build, ctest                     (preset posix)
  m32       32-bit build (gcc -m32), ctest              (preset m32; x86-64
            hosts with gcc-multilib; elsewhere SKIP, with the reason)
  gate      scripts/test_gate.sh --synthetic-only, scripts/main.sh --ci

  --quick       only the gcc and asan stages
  --no-install  do not install missing Debian packages (only warn)
  -h, --help    this text

Every stage runs even if an earlier one failed. The last line is
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
  catch2 libuv1-dev pkg-config valgrind clang-format abigail-tools python3)
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
stage_asan() { build_and_test asan; }
stage_tsan() { build_and_test tsan; }

# The Debug (gcc, uninstrumented) binaries under memcheck, each run once as
# a whole. Children of IPC tests are re-executed natively
# (--trace-children=no); tests tagged [valgrind-skip] are excluded, and so
# are hidden [.] tests, which an exclusion-only Catch2 filter would select.
stage_valgrind() {
  if [ "${debug_built:-0}" -ne 1 ]; then
    echo "valgrind: the gcc Debug build did not succeed; nothing to run"
    return 1
  fi
  local dir=build/debug/conformance bin ran=0 status=0
  export MMAPIO_TEST_DIR="$root/$dir/testtmp"
  mkdir -p "$MMAPIO_TEST_DIR"
  for bin in mmapio_conformance mmapio_seam_tests; do
    if [ ! -x "$dir/$bin" ]; then
      echo "valgrind: $dir/$bin not built"
      [ "$bin" = mmapio_conformance ] && status=1
      continue
    fi
    echo "--- valgrind $dir/$bin"
    echo "    (not under valgrind: [touch] [lock] [hugepages] [sparse] — they"
    echo "    assert the kernel's residency, mlock and huge-page behaviour and"
    echo "    reserve 1 TiB of address space, which valgrind emulates only in"
    echo "    part; they run in the gcc, asan and tsan stages)"
    ran=$((ran + 1))
    valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
      --child-silent-after-fork=yes \
      --track-origins=yes --num-callers=30 --trace-children=no -q \
      "$dir/$bin" '~[valgrind-skip]~[.]~[touch]~[lock]~[hugepages]~[sparse]' ||
      status=1
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
  build_and_test m32
}
stage_api() { scripts/api_check.sh --no-install; }
# The perf gate's own tests (it must fail a deliberately slowed run and
# pass identical ones), then gate 1 in its quick CI mode.
stage_gate() {
  scripts/test_gate.sh --synthetic-only || return 1
  scripts/main.sh --ci
}

stages=(format api gcc asan tsan valgrind posix m32 gate)
if [ "$quick" -eq 1 ]; then
  stages=(gcc asan)
fi
declare -A title=(
  [format]="format check (scripts/format.sh --check)"
  [gcc]="gcc Debug build (-Werror) + ctest"
  [asan]="clang ASan+UBSan build + ctest"
  [tsan]="clang TSan build + ctest"
  [valgrind]="valgrind memcheck of the conformance binaries"
  [posix]="POSIX-only build (Linux extensions compiled out) + ctest"
  [m32]="32-bit build (gcc -m32, 64-bit offsets) + ctest"
  [api]="public API and ABI against the committed snapshot"
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

banner "summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
