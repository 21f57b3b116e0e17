# needs: reads_loop_floor.dat
w = 1000; h = 560
load 'scripts/plots_common.gp'
set title 'Sequential read of the whole range, warm: throughput'
set logscale x
set xlabel 'size'
set ylabel 'GiB/s'
eval('set xtics ' . sizetics)
set yrange [0:*]
d(f) = datadir . '/' . f
g(x) = x / 2.0**30
plot d('reads_view.dat') u 1:(g($3)) w lp ls 1 t 'mmapio view + full read', \
     d('reads_loop_floor.dat') u 1:(g($3)) w lp ls 2 t 'floor: pointer loop', \
     d('reads_read_into.dat') u 1:(g($3)) w lp ls 4 t 'mmapio read\_into (1 MiB pieces)', \
     d('reads_memcpy_floor.dat') u 1:(g($3)) w lp ls 3 t 'floor: memcpy', \
     d('reads_pread_floor.dat') u 1:(g($3)) w lp ls 5 t 'floor: pread', \
     d('reads_boost.dat') u 1:(g($3)) w lp ls 6 t 'Boost mapped\_region', \
     d('reads_glib.dat') u 1:(g($3)) w lp ls 7 t 'GLib GMappedFile'
