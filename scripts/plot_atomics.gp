# needs: atomic_add64_floor.dat
w = 900; h = 500
load 'scripts/plots_common.gp'
set title 'Atomic fetch\_add on one mapped counter (threads share it)'
set xlabel 'threads'
set ylabel 'ns per operation (wall)'
set xtics 1
set xrange [0.8:2.2]
set yrange [0:*]
d(f) = datadir . '/' . f
plot d('atomic_add64_mmapio.dat') u 1:2 w lp ls 1 t 'mmapio 64-bit', \
     d('atomic_add64_floor.dat') u 1:2 w lp ls 2 t 'floor: C11 atomic, 64-bit', \
     d('atomic_add32_mmapio.dat') u 1:2 w lp ls 4 t 'mmapio 32-bit', \
     d('atomic_add32_floor.dat') u 1:2 w lp ls 3 t 'floor: C11 atomic, 32-bit'
