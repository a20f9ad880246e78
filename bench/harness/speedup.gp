# out/speedup.png of `parlab bench`: speed-up over serial C++ against the number of workers,
# one panel per workload, one line per contender, with the ideal line (speed-up = workers) and
# the machine's core count marked.
#
# `parlab bench` writes the data and runs:  gnuplot -e "datadir='DIR'; output='FILE'" speedup.gp
#   DIR/params.gp          npanels, ids[], titles[], ymaxs[], cores, cpus, maxw, ncols, heading
#   DIR/speedup_<id>.dat   a header line of quoted column titles, then one line per worker
#                          count: workers, then one speed-up per contender (NaN: not measured)

load datadir.'/params.gp'

set terminal pngcairo size 1600,1000 font "DejaVu Sans,11" noenhanced
set output output
set encoding utf8

rows = (npanels > 3) ? 2 : 1
set multiplot layout rows,3 title heading font "DejaVu Sans,14" margins 0.06,0.98,0.08,0.88 spacing 0.08,0.14

unset key
set grid ytics lc rgb "#dddddd"
set xlabel "workers"
set ylabel "speed-up over serial C++"
set xrange [0.5:maxw + 0.5]
set xtics 1
set style line 1 lc rgb "#d62728" lw 2.5 pt 7 ps 1.2
set style line 2 lc rgb "#1f77b4" lw 1.8 pt 5 ps 1.0
set style line 3 lc rgb "#2ca02c" lw 1.8 pt 9 ps 1.1
set style line 4 lc rgb "#9467bd" lw 1.8 pt 11 ps 1.1
set style line 5 lc rgb "#ff7f0e" lw 1.8 pt 13 ps 1.1 dt 4
set style line 6 lc rgb "#8c564b" lw 1.8 pt 15 ps 1.1

do for [k=1:npanels] {
  file = datadir.'/speedup_'.ids[k].'.dat'
  set yrange [0:ymaxs[k]]
  set title titles[k] font "DejaVu Sans,11"
  set arrow 1 from cores, graph 0 to cores, graph 1 nohead lc rgb "#888888" dt 2 lw 1.5
  set label 1 sprintf("%d cores", cores) at cores, graph 0.04 offset 0.6,0 tc rgb "#666666" font "DejaVu Sans,9"
  set arrow 2 from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#bbbbbb" lw 1
  plot x title "ideal (= workers)" with lines lc rgb "#999999" dt 3 lw 1.5, \
       for [c=2:ncols] file using 1:c with linespoints ls (c - 1) title columnheader(c)
  unset arrow 1
  unset arrow 2
  unset label 1
}
# The legend, in the next free cell.
if (npanels < rows * 3) {
  unset title
  unset border
  unset tics
  unset xlabel
  unset ylabel
  unset grid
  set yrange [0:1]
  set key center center font "DejaVu Sans,12" box samplen 3 spacing 1.4 width 2 title "speed-up = serial C++ time / its time\n(parlab map_into: serial C++ into / its time)"
  plot NaN title "ideal (= workers)" with lines lc rgb "#999999" dt 3 lw 1.5, \
       for [c=2:ncols] datadir.'/speedup_'.ids[1].'.dat' using (NaN):(NaN) with linespoints ls (c - 1) title columnheader(c)
}
unset multiplot
