#!/usr/bin/env bash
# Installs the Debian packages a script needs, if they are missing.
#
# As a command:   scripts/deps.sh [--check] PACKAGE...
# As a library:   source scripts/deps.sh; deps_ensure PACKAGE...
#                 (deps_missing PACKAGE... prints the missing ones)
set -euo pipefail

deps_usage() {
  cat <<'EOF'
usage: scripts/deps.sh [--check] PACKAGE...

Installs the Debian packages among PACKAGE that are not installed yet
(apt-get update once, then apt-get install -y), when running as root.
Not root, or with --check: lists the missing packages and exits 2.
Exits 0 when everything is installed.
EOF
}

# Prints the packages among "$@" that dpkg does not report as installed
# for this machine's architecture (or as architecture-independent).
# A package may be installed for several architectures at once (a cross
# build installs foreign -dev packages), and dpkg-query then prints one
# line per instance; only a native or "all" instance counts.
deps_missing() {
  local pkg native
  native=$(dpkg --print-architecture 2>/dev/null || echo unknown)
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}|${Architecture}\n' "$pkg" 2>/dev/null |
      grep -qxE "install ok installed\|($native|all)"; then
      printf '%s\n' "$pkg"
    fi
  done
}

# deps_ensure [--check] PACKAGE...: returns 0 when all are installed
# (installing them if root and not --check), 2 when some are missing.
deps_ensure() {
  local check=0
  if [ "${1:-}" = --check ]; then
    check=1
    shift
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; make sure these (or their" \
      "equivalents) are installed: $*" >&2
    return 0
  fi

  local missing=()
  local pkg
  while IFS= read -r pkg; do
    [ -n "$pkg" ] && missing+=("$pkg")
  done < <(deps_missing "$@")
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi

  if [ "$check" -eq 1 ] || [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo apt-get install -y ${missing[*]}" >&2
    return 2
  fi

  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -q --no-install-recommends "${missing[@]}"

  # Fail loudly if apt-get claimed success but a package is still absent.
  local still
  still=$(deps_missing "${missing[@]}")
  if [ -n "$still" ]; then
    echo "deps: still missing after install: ${still//$'\n'/ }" >&2
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
  "" | -h | --help)
    deps_usage
    [ "$#" -gt 0 ] && exit 0
    exit 2
    ;;
  esac
  rc=0
  deps_ensure "$@" || rc=$?
  exit "$rc"
fi
