# Latency against concurrency per subject, p50 and p99, from bench/report.mjs's latency.dat.
# Called as: gnuplot -e "datafile='…'; outfile='…'; subjects='direct nginx …'; subtitle='…'" plot.gp
# Columns: concurrency, then p50 and p99 for each subject in the order of `subjects`.
set terminal pngcairo size 1200,520 font ",10"
set output outfile
set multiplot layout 1,2 title "Non-streaming chat completions: latency to last byte (".subtitle.")"
set logscale xy
set xlabel "concurrency (connections, closed loop)"
set ylabel "ms"
set grid
set key top left
set xtics (1, 16, 64, 256)
set datafile missing "NaN"
n = words(subjects)
set title "p50"
plot for [i=1:n] datafile using 1:(column(2*i)) with linespoints lw 2 pt 7 title word(subjects, i)
set title "p99"
plot for [i=1:n] datafile using 1:(column(2*i+1)) with linespoints lw 2 pt 7 title word(subjects, i)
unset multiplot
