# needs: touch_warm_floor.dat
w = 1300; h = 560
load 'scripts/plots_common.gp'
set multiplot layout 1, 2 title 'touch\_pages: fault every page in, against both raw floors'
set logscale xy
set xlabel 'size'
set ylabel 'time'
eval('set xtics ' . sizetics)
set format y '%.0s %cs'
set key inside left top
d(f) = datadir . '/' . f
do for [st in 'warm cold'] {
  set title st . (st eq 'cold' ? ' (page cache dropped, checked)' : ' (resident, checked)')
  plot d('touch_'.st.'_mmapio.dat') u 1:($2*1e-9) w lp ls 1 t 'mmapio touch\_pages', \
       d('touch_'.st.'_floor.dat') u 1:($2*1e-9) w lp ls 2 t 'floor: 1 byte per page', \
       d('touch_'.st.'_floor_populate.dat') u 1:($2*1e-9) w lp ls 3 t 'floor: MADV\_POPULATE\_READ', \
       d('touch_naive_'.st.'_mmapio.dat') u 1:($2*1e-9) w lp ls 4 t 'naive: 1 read\_into per page'
}
unset multiplot
