# needs: flush_range_floor.dat
w = 1000; h = 560
load 'scripts/plots_common.gp'
set title 'Flush after writing n bytes (the page dirty each time): latency'
set logscale xy 2
set xlabel 'bytes written, then flushed'
set ylabel 'latency'
set xtics ("64" 64, "256" 256, "1K" 1024, "4K" 4096, "8K" 8192)
set logscale y 10
set format y '%.0s %cs'
d(f) = datadir . '/' . f
plot d('flush_range_mmapio.dat') u 1:($2*1e-9) w lp ls 1 t 'mmapio flush\_range (durable)', \
     d('flush_range_floor.dat') u 1:($2*1e-9) w lp ls 2 t 'floor: msync(MS\_SYNC)', \
     d('flush_range_boost.dat') u 1:($2*1e-9) w lp ls 6 t 'Boost flush(sync)', \
     d('flush_hint_mmapio.dat') u 1:($2*1e-9) w lp ls 4 t 'mmapio flush\_range\_hint (not durable)', \
     d('flush_hint_floor.dat') u 1:($2*1e-9) w lp ls 3 t 'floor: sync\_file\_range(WRITE)'
