# Shared settings of the perf plots (loaded by every scripts/plot_*.gp; not a plot itself).
# Called by scripts/plots.sh with datadir, outfile and fmt ('png'/'svg').
set encoding utf8
set micro
if (fmt eq 'svg') {
  set terminal svg size w, h dynamic enhanced font 'sans,11' background rgb 'white'
} else {
  set terminal pngcairo size w, h enhanced font 'sans,10' background rgb 'white'
}
set output outfile
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key outside right top vertical Left reverse noenhanced
set datafile missing 'NaN'
sizetics = '("4K" 4096, "64K" 65536, "1M" 1048576, "16M" 16777216, "256M" 268435456, "1G" 1073741824)'
set style line 1 lc rgb '#1f77b4' lw 2 pt 7 ps 0.8
set style line 2 lc rgb '#444444' lw 2 pt 5 ps 0.8 dt 2
set style line 3 lc rgb '#888888' lw 2 pt 9 ps 0.8 dt 3
set style line 4 lc rgb '#d62728' lw 2 pt 7 ps 0.8
set style line 5 lc rgb '#ff7f0e' lw 2 pt 11 ps 0.8 dt 4
set style line 6 lc rgb '#2ca02c' lw 2 pt 13 ps 0.8
set style line 7 lc rgb '#9467bd' lw 2 pt 15 ps 0.8
