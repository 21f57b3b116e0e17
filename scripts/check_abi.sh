#!/bin/sh
# usage: scripts/check_abi.sh soname LIBRARY SONAME
#        scripts/check_abi.sh exports LIBRARY
#        scripts/check_abi.sh public_api LIBRARY HEADER
#
# The shared library's ABI checks, which ctest runs as abi.<mode>
# (conformance/CMakeLists.txt):
#   soname      LIBRARY's SONAME is SONAME (libmmapio.so.<major>);
#   exports     every dynamic symbol LIBRARY defines is mmapio_* under a
#               MMAPIO_x.y version node;
#   public_api  LIBRARY exports exactly the functions HEADER declares with
#               MMAPIO_API, read by scripts/api_surface.py (the parser of
#               the API snapshot), so a function declared but not
#               implemented fails here.
# The tools are $NM, $READELF and $PYTHON (default nm, readelf, python3).
set -eu
export LC_ALL=C
usage() { sed -n '2,4s/^# \{0,1\}//p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
mode=$1 lib=$2
nm=${NM:-nm} readelf=${READELF:-readelf} python=${PYTHON:-python3}
[ -f "$lib" ] || { echo "$lib does not exist (build the mmapio target)"; exit 1; }
fail=0
case $mode in
soname)
  [ $# -eq 3 ] || usage
  got=$("$readelf" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
  echo "SONAME: ${got:-<none>} (expected $3)"
  [ "$got" = "$3" ] || fail=1
  ;;
exports)
  [ $# -eq 2 ] || usage
  # nm -D prints "ADDR TYPE NAME@@NODE"; the node itself is an A symbol.
  out=$("$nm" -D --defined-only "$lib")
  n=0
  while read -r _addr type name; do
    if [ "$type" = A ]; then
      case $name in
      MMAPIO_[0-9]*.[0-9]*) continue ;;
      esac
    fi
    if printf '%s\n' "$name" |
      grep -Eq '^mmapio_[A-Za-z0-9_]+@@?MMAPIO_[0-9]+\.[0-9]+$'; then
      n=$((n + 1))
    else
      echo "unexpected export: $type $name"
      fail=1
    fi
  done <<EOF
$out
EOF
  echo "$n versioned mmapio_* symbols exported"
  [ "$n" -gt 0 ] || { echo "no mmapio_* symbol exported"; fail=1; }
  ;;
public_api)
  [ $# -eq 3 ] || usage
  "$python" "$(dirname "$0")/api_surface.py" --check --nm "$nm" "$3" "$lib" ||
    fail=1
  ;;
*) usage ;;
esac
exit $fail
