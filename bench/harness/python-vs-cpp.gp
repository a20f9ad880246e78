# out/python-vs-cpp.png of `parlab bench`: per lab step, the wall time of the Python notebook
# (serial and Pool.map) against serial C++ and parlab, on a log scale; each bar is labelled.
#
# `parlab bench` writes the data and runs:  gnuplot -e "datadir='DIR'; output='FILE'" python-vs-cpp.gp
#   DIR/params.gp     nseries, colors[], heading, ymin, ymax
#   DIR/pyvscpp.dat   a header line of quoted column titles, then one line per step: its quoted
#                     name, then one time in seconds per series (NaN: not measured)

load datadir.'/params.gp'

set terminal pngcairo size 1600,900 font "DejaVu Sans,11" noenhanced
set output output
set encoding utf8

set title heading font "DejaVu Sans,14"
set style data histogram
set style histogram clustered gap 1.5
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.95
set logscale y
set yrange [ymin:ymax]
# Tick labels by hand: the %c format prefix would print "us".
tick(e) = (e < -3) ? sprintf("%g µs", 10.0**(e + 6)) : ((e < 0) ? sprintf("%g ms", 10.0**(e + 3)) : sprintf("%g s", 10.0**e))
set ytics ()
do for [e=-9:4] { set ytics add (tick(e) 10.0**e) }
set mytics 10
set ylabel "wall time of one call (median, log scale)"
set grid ytics mytics lc rgb "#dddddd"
set key top right font "DejaVu Sans,10" box opaque
set xtics nomirror scale 0 font "DejaVu Sans,11"
set lmargin 12
set key autotitle columnheader  # the first line of the data holds the titles

width = 1.0 / (nseries + 1.5)
fmt(t) = (t != t) ? "" : (t < 1e-3 ? sprintf("%.3g µs", t * 1e6) : (t < 1 ? sprintf("%.3g ms", t * 1e3) : sprintf("%.3g s", t)))

plot for [c=2:nseries+1] datadir.'/pyvscpp.dat' using c:xtic(1) lc rgb colors[c-1], \
     for [c=2:nseries+1] datadir.'/pyvscpp.dat' using ($0 + (c - 2 - (nseries - 1) / 2.0) * width):(column(c)):(fmt(column(c))) \
         with labels left rotate by 90 offset 0,0.5 font "DejaVu Sans,9" notitle
