# needs: ratios.dat
f = datadir . '/ratios.dat'
stats f u 1 nooutput
n = STATS_records
w = 1100; h = 140 + 15 * n
load 'scripts/plots_common.gp'
set title 'Every library path ÷ its raw floor (same run); red ticks: SPEC target (grey bars: none)'
set key off
set grid noytics
set yrange [n:-1]
set ytics scale 0 font ',8' noenhanced
set xlabel 'library time ÷ floor time (1 = at the floor)'
set xrange [0:*]
set style fill solid 0.8 noborder
set arrow 1 from 1, graph 0 to 1, graph 1 nohead lc rgb '#444444' dt 2
over(r, t) = (t > 0 && r > t) ? 0xd62728 : (t > 0 ? 0x1f77b4 : 0x9a9a9a)
plot f u ($3/2):1:(0):3:($1-0.38):($1+0.38):(over($3,$4)):ytic(2) w boxxyerror lc rgb variable, \
     f u ($4 > 0 ? $4 : 1/0):($1-0.48):(0):(0.96) w vectors nohead lc rgb '#d62728' lw 2
