#!/usr/bin/env bash
# Draws the perf plots (PNG and SVG) from the data scripts/report.py wrote.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/plots.sh [REPORTS_DIR]

Reads REPORTS_DIR/data/*.dat (written by scripts/report.py; default
reports/) and writes REPORTS_DIR/<plot>.png and .svg with gnuplot (Debian
gnuplot-nox), one per scripts/plot_*.gp: reads_time, reads_throughput,
touch, flush, atomics, ratios. A plot whose data is absent is skipped
with a message.
USAGE
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/reports}
mkdir -p "$out"
out=$(cd "$out" && pwd)
data="$out/data"
cd "$root" # the plot scripts load scripts/plots_common.gp
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "plots.sh: gnuplot not found (Debian package gnuplot-nox)" >&2
  exit 2
fi
if [ ! -d "$data" ]; then
  echo "plots.sh: no $data; run scripts/report.py first" >&2
  exit 2
fi

# A data file "has data" when it holds a line that is not a comment.
has_data() { [ -f "$1" ] && grep -qv '^#' "$1"; }

made=()
for gp in "$root"/scripts/plot_*.gp; do
  name=$(basename "$gp" .gp)
  name=${name#plot_}
  # The first data file a plot script names is the one it cannot do without.
  need=$(sed -n 's/^# needs: *//p' "$gp" | head -n1)
  if [ -n "$need" ] && ! has_data "$data/$need"; then
    echo "plots.sh: skipping $name ($need has no data)"
    continue
  fi
  for fmt in png svg; do
    if ! gnuplot -e "datadir='$data'; outfile='$out/$name.$fmt'; fmt='$fmt'" \
      "$gp" 2>"$out/.$name.gnuplot.log"; then
      echo "plots.sh: gnuplot failed on $name.$fmt:" >&2
      cat "$out/.$name.gnuplot.log" >&2
      exit 1
    fi
    # Warnings about empty series are expected (a peer or a library side
    # may be absent); anything else is shown.
    grep -v -e 'Skipping data file' -e 'Cannot find or open' -e '^ *$' \
      -e '^ *"' -e '^ *\^' "$out/.$name.gnuplot.log" >&2 || true
    rm -f "$out/.$name.gnuplot.log"
  done
  made+=("$name")
done
echo "plots.sh: wrote ${#made[@]} plots (PNG and SVG) into $out: ${made[*]}"
