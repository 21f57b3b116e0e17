#!/usr/bin/env bash
# usage: scripts/package_test.sh [--no-install] [--keep]
#
# The installed package, as a user meets it. Builds mmapio (Release, with
# the reference documentation) under build/package, installs it into a
# temporary prefix and moves that prefix elsewhere, so that nothing can
# rely on a path baked in at build time. Against the moved prefix,
# conformance/consumer is built out of tree and run:
#   cmake-shared  find_package(mmapio 1.0 CONFIG), mmapio::mmapio; it must
#                 load libmmapio.so.1 from the prefix (ldd)
#   cmake-static  mmapio::mmapio_static (which carries Threads::Threads);
#                 no libmmapio.so needed at run time
#   pkg-config    plain cc with `pkg-config --cflags --libs mmapio`, and a
#                 fully static link with `--static` (Libs.private: -pthread)
#   suite         the conformance suite configured with conformance/ as its
#                 own project against the prefix, built and run (all but
#                 the seam tests, which need the source tree's internals)
# It also checks that find_package(mmapio 2.0) is refused (SameMajorVersion)
# and that `MANPATH=PREFIX/share/man man mmapio_open` shows the installed
# page. --no-install: do not install missing Debian packages, only report
# them. --keep: keep the temporary directory and print its path.
set -euo pipefail
install=1 keep=0
for arg in "$@"; do
  case $arg in
  --no-install) install=0 ;;
  --keep) keep=1 ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "package_test.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
pkgs=(cmake make gcc g++ libc6-dev pkg-config doxygen python3 man-db binutils
  catch2)
if [ "$install" = 1 ]; then deps_ensure "${pkgs[@]}"; else deps_ensure --check "${pkgs[@]}"; fi

tmp=$(mktemp -d)
if [ "$keep" = 1 ]; then
  echo "package_test: keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

build=build/package
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMMAPIO_BUILD_TESTS=OFF \
  -DMMAPIO_BUILD_DOCS=ON >/dev/null
cmake --build "$build" --parallel 2 >/dev/null
cmake --install "$build" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix
echo "package_test: installed and moved to $prefix:"
(cd "$prefix" && find . ! -path './share/man/man3/*' \( -type f -o -type l \) |
  sort | sed 's/^/  /')
echo "  ./share/man/man3/: $(find "$prefix/share/man/man3" -type f | wc -l) pages"

failed=0
check() { # check NAME COMMAND...: runs the command, reports PASS or FAIL
  local name=$1
  shift
  if "$@"; then
    echo "PASS  $name"
  else
    echo "FAIL  $name"
    failed=$((failed + 1))
  fi
}

mkdir -p "$tmp/run"
consumer=conformance/consumer

cmake_consumer() { # cmake_consumer DIR LINK
  cmake -S "$consumer" -B "$tmp/$1" -DCMAKE_PREFIX_PATH="$prefix" \
    -DMMAPIO_CONSUMER_LINK="$2" >"$tmp/$1.log" 2>&1 &&
    cmake --build "$tmp/$1" >>"$tmp/$1.log" 2>&1 &&
    "$tmp/$1/consumer" "$tmp/run" || {
    cat "$tmp/$1.log"
    return 1
  }
}

installed_so=$(readlink -f "$(find "$prefix" -name libmmapio.so.1)")
loads_installed_so() { # the binary loads libmmapio.so.1 from the prefix
  local line path
  line=$(ldd "$1" | grep 'libmmapio\.so') || {
    echo "$1 does not load libmmapio.so"
    return 1
  }
  echo "  ldd: ${line#"${line%%[![:space:]]*}"}"
  path=$(echo "$line" | sed -n 's/^[[:space:]]*libmmapio\.so\.1 => \(.*\) (0x.*/\1/p')
  [ -n "$path" ] && [ "$(readlink -f "$path")" = "$installed_so" ]
}

no_shared_mmapio() { # nothing of libmmapio.so is needed
  if readelf -d "$1" | grep -q 'NEEDED.*libmmapio'; then
    echo "$1 needs libmmapio.so"
    return 1
  fi
}

check "cmake-shared: build and run" cmake_consumer shared shared
check "cmake-shared: loads libmmapio.so.1 from the prefix" \
  loads_installed_so "$tmp/shared/consumer"
check "cmake-static: build and run" cmake_consumer static static
check "cmake-static: no libmmapio.so needed" \
  no_shared_mmapio "$tmp/static/consumer"

static_target_has_threads() { # consumers of the .a get -pthread's library
  awk '/add_library\(mmapio::mmapio_static/ { t = 1 }
       t && /INTERFACE_LINK_LIBRARIES/ { print; exit }' \
    "$prefix"/lib*/cmake/mmapio/mmapio-targets.cmake | grep -q 'Threads::Threads'
}
check "cmake-static: mmapio::mmapio_static carries Threads::Threads" \
  static_target_has_threads

refuses_2_0() {
  if cmake -S "$consumer" -B "$tmp/want2" -DCMAKE_PREFIX_PATH="$prefix" \
    -DMMAPIO_CONSUMER_WANT=2.0 >"$tmp/want2.log" 2>&1; then
    echo "find_package(mmapio 2.0) accepted version 1"
    return 1
  fi
  grep -q 'compatible' "$tmp/want2.log"
}
check "cmake: find_package(mmapio 2.0) refused" refuses_2_0

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir mmapio)
cflags=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
echo "  pkg-config --cflags --libs:          $(pkg-config --cflags --libs mmapio)"
echo "  pkg-config --static --libs:          $(pkg-config --static --libs mmapio)"

pc_shared() {
  # shellcheck disable=SC2046 # pkg-config output is a list of words
  cc "${cflags[@]}" "$consumer/consumer.c" -o "$tmp/pc-shared" \
    $(pkg-config --cflags --libs mmapio) -Wl,-rpath,"$libdir" &&
    "$tmp/pc-shared" "$tmp/run" && loads_installed_so "$tmp/pc-shared"
}
pc_static() {
  pkg-config --static --libs mmapio | grep -q -- '-pthread' || {
    echo "pkg-config --static --libs mmapio lacks -pthread"
    return 1
  }
  # shellcheck disable=SC2046
  cc -static "${cflags[@]}" "$consumer/consumer.c" -o "$tmp/pc-static" \
    $(pkg-config --cflags --static --libs mmapio) &&
    "$tmp/pc-static" "$tmp/run" && no_shared_mmapio "$tmp/pc-static"
}
check "pkg-config: cc, shared, loads libmmapio.so.1" pc_shared
check "pkg-config: cc -static with --static --libs" pc_static

man_page() {
  local page
  page=$(MANPATH="$prefix/share/man" man -w mmapio_open) || return 1
  echo "  man -w mmapio_open: $page"
  [[ $page == "$prefix/share/man/man3/"* ]] &&
    MANPATH="$prefix/share/man" man -P cat mmapio_open 2>/dev/null |
    grep -q 'int mmapio_open (mmapio_map \*\* out'
}
check "man: MANPATH=PREFIX/share/man man mmapio_open" man_page

suite_installed() { # the conformance suite, built against the prefix
  cmake -S conformance -B "$tmp/suite" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Debug >"$tmp/suite.log" 2>&1 &&
    cmake --build "$tmp/suite" --parallel 2 >>"$tmp/suite.log" 2>&1 &&
    loads_installed_so "$tmp/suite/mmapio_conformance" &&
    ctest --test-dir "$tmp/suite" --parallel 2 >>"$tmp/suite.log" 2>&1 || {
    tail -40 "$tmp/suite.log"
    return 1
  }
  echo "  $(grep -E 'tests passed' "$tmp/suite.log")"
}
check "conformance suite against the prefix (seam tests excepted)" \
  suite_installed

if [ "$failed" -ne 0 ]; then
  echo "package_test: $failed check(s) failed"
  exit 1
fi
echo "package_test: all checks passed"
