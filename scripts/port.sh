#!/usr/bin/env bash
# Builds mmapio and its conformance suite for other architectures (clang +
# Debian's cross libraries), runs the suite under qemu-user, and writes a
# report per target plus a matrix in reports/conformance/.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/port.sh [--no-install] [--build-only | --report-only]
                       [--out DIR] [--check] [TARGET...]

Cross targets (qemu-user):  aarch64 aarch64-16k aarch64-64k armhf ppc64le
                            s390x riscv64
Native targets:             native (x86-64 or this host), m32 (gcc -m32),
                            posix (POSIX-only build)
Without TARGET: every cross target. "all": cross and native targets.

Per target: build/port/TARGET (Debug build), then
OUT/TARGET.{md,json,junit.xml}; at the end the matrix OUT/README.md over
every TARGET.json there. OUT is reports/conformance unless --out DIR.
Installs the Debian packages it needs (scripts/deps.sh) unless
--no-install. --build-only stops after the builds; --report-only
rewrites the reports from the last runs.
Exit status 0 when every target built and ran (without --check, tests
may still fail: see the reports; with --check, a target with a failed
test counts as one that did not run), 1 when one did not, 2 on usage
errors.
EOF
}

cross_targets=(aarch64 aarch64-16k aarch64-64k armhf ppc64le s390x riscv64)
native_targets=(native m32 posix)

install=1
report_only=0
build_only=0
check=0
out=reports/conformance
targets=()
while [ "$#" -gt 0 ]; do
  arg=$1
  shift
  case "$arg" in
  -h | --help) usage; exit 0 ;;
  --check) check=1 ;;
  --out)
    [ "$#" -gt 0 ] || { echo "port.sh: --out needs a directory" >&2; exit 2; }
    out=$1
    shift
    ;;
  --no-install) install=0 ;;
  --report-only) report_only=1 ;;
  --build-only) build_only=1 ;;
  all) targets+=("${cross_targets[@]}" "${native_targets[@]}") ;;
  -*) echo "port.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  *) targets+=("$arg") ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=("${cross_targets[@]}")

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

jobs=2 # builds and ctest: the machine is shared, and qemu is heavy
# An emulated test runs 10 to 50 times slower; the crash and injection
# loops need minutes (under 3 on aarch64). A hang guard, not a measure
# of speed.
emulated_timeout=900

# target -> Debian architecture, GNU triple (the cross packages' names).
debian_arch() {
  case "$1" in
  aarch64*) echo arm64 ;;
  armhf) echo armhf ;;
  ppc64le) echo ppc64el ;;
  s390x) echo s390x ;;
  riscv64) echo riscv64 ;;
  *) return 1 ;;
  esac
}
triple() {
  case "$1" in
  aarch64*) echo aarch64-linux-gnu ;;
  armhf) echo arm-linux-gnueabihf ;;
  ppc64le) echo powerpc64le-linux-gnu ;;
  s390x) echo s390x-linux-gnu ;;
  riscv64) echo riscv64-linux-gnu ;;
  *) return 1 ;;
  esac
}
is_cross() { debian_arch "$1" >/dev/null 2>&1; }

common_packages=(cmake ninja-build catch2 pkg-config python3 binutils)

# libuv is the suite's only test dependency beyond Catch2 (the async
# tests drive completions from a real event loop). For a cross target it
# is the multiarch package libuv1-dev:<arch>, which deps.sh (native
# packages only) does not handle. Debian 12 has no riscv64 port, so
# there the libuv test skips. A failing `apt-get update` of some
# foreign index (bookworm-security lacks some architectures at times)
# must not stop the run: the package may still be installable.
ensure_foreign_libuv() {
  local arch=$1
  [ "$arch" = riscv64 ] && return 0
  if dpkg-query -W -f='${Status}\n' "libuv1-dev:$arch" 2>/dev/null |
    grep -qx 'install ok installed'; then
    return 0
  fi
  if [ "$install" -eq 0 ] || [ "$(id -u)" -ne 0 ]; then
    echo "port.sh: libuv1-dev:$arch missing: its test will skip" >&2
    return 0
  fi
  dpkg --add-architecture "$arch"
  apt-get update -qq || echo "port.sh: apt-get update reported errors;" \
    "trying to install libuv1-dev:$arch anyway" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "libuv1-dev:$arch" ||
    echo "port.sh: libuv1-dev:$arch not installed: its test will skip" >&2
}

ensure_deps() {
  local t=$1 pkgs=("${common_packages[@]}")
  if is_cross "$t"; then
    local a tr
    a=$(debian_arch "$t")
    tr=$(triple "$t")
    # No gcc-<triple>: it would remove gcc-multilib (see
    # cmake/toolchains/cross-clang.cmake).
    pkgs+=(clang qemu-user "binutils-$tr" "libc6-dev-$a-cross"
      "libstdc++-12-dev-$a-cross" "libgcc-12-dev-$a-cross")
  else
    pkgs+=(gcc g++ libuv1-dev)
    [ "$t" = m32 ] && pkgs+=(gcc-multilib g++-multilib)
  fi
  local flag=()
  [ "$install" -eq 1 ] || flag=(--check)
  deps_ensure "${flag[@]}" "${pkgs[@]}" || return 1
  if is_cross "$t"; then ensure_foreign_libuv "$(debian_arch "$t")"; fi
}

# The build directory's configure command for target t.
configure() {
  local t=$1 dir=$2
  local args=(-S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug
    -DMMAPIO_BUILD_TESTS=ON -DMMAPIO_BUILD_EXAMPLES=ON -DMMAPIO_BUILD_FUZZ=OFF
    -DMMAPIO_WERROR=ON)
  if is_cross "$t"; then
    args+=("-DCMAKE_TOOLCHAIN_FILE=$root/cmake/toolchains/$t.cmake"
      "-DMMAPIO_TEST_TIMEOUT=$emulated_timeout")
    # With a larger emulated page (qemu -p) only static programs run
    # (cross-clang.cmake); the examples link the shared library.
    if grep -q MMAPIO_CROSS_PAGE_SIZE "cmake/toolchains/$t.cmake"; then
      args+=(-DMMAPIO_BUILD_EXAMPLES=OFF)
    fi
  else
    args+=(-DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++)
    case "$t" in
    m32)
      args+=(-DCMAKE_C_FLAGS=-m32 -DCMAKE_CXX_FLAGS=-m32)
      export PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig
      ;;
    posix) args+=(-DMMAPIO_POSIX_ONLY=ON) ;;
    esac
  fi
  cmake "${args[@]}"
}

# Builds and runs target t; its ctest outputs stay in the build directory.
run_target() {
  local t=$1 dir=build/port/$1
  ensure_deps "$t" || return 1
  (configure "$t" "$dir") || return 1
  cmake --build "$dir" --parallel "$jobs" || return 1
  # The tree the run tested, for its report: dirty when a source differs
  # from the commit (the reports this command writes do not count).
  local src
  if src=$(git describe --always 2>/dev/null); then
    [ -z "$(git status --porcelain -- . ':(exclude)reports' 2>/dev/null)" ] ||
      src=$src-dirty
    printf '%s\n' "$src" >"$dir/source.txt"
  fi
  [ "$build_only" -eq 0 ] || return 0
  rm -f "$dir/junit.xml" "$dir/skips.tsv"
  local start end rc=0
  start=$(date +%s)
  MMAPIO_SKIP_LOG="$root/$dir/skips.tsv" ctest --test-dir "$dir" \
    --parallel "$jobs" --output-junit junit.xml >"$dir/ctest.log" 2>&1 || rc=$?
  end=$(date +%s)
  printf '%s\n' "$((end - start))" >"$dir/ctest.seconds"
  tail -n 3 "$dir/ctest.log"
  echo "port.sh: $t: ctest exit status $rc, $((end - start)) s"
  [ -s "$dir/junit.xml" ]
}

report_target() {
  local flag=()
  [ "$check" -eq 0 ] || flag=(--check)
  python3 scripts/conformance_report.py target --name "$1" \
    --build "build/port/$1" --out "$out" "${flag[@]}"
}

mkdir -p "$out"
failed=()
for t in "${targets[@]}"; do
  if ! is_cross "$t" && [[ ! " ${native_targets[*]} " == *" $t "* ]]; then
    echo "port.sh: unknown target '$t'" >&2
    usage >&2
    exit 2
  fi
  echo "== port.sh: $t"
  if [ "$report_only" -eq 0 ] && ! run_target "$t"; then
    echo "port.sh: $t did not build or run" >&2
    failed+=("$t")
    continue
  fi
  [ "$build_only" -eq 0 ] || continue
  report_target "$t" || failed+=("$t")
done
[ "$build_only" -eq 1 ] ||
  python3 scripts/conformance_report.py matrix --out "$out"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "port.sh: failed: ${failed[*]}" >&2
  exit 1
fi
