# common.gp: terminal and style shared by every figure. Called with
#   gnuplot -e "data='DIR'; out='FILE'; fmt='png'|'svg'; title_extra='...'" FIGURE.gp
if (!exists('height')) height = 560  # a figure with more to label sets it before loading this
if (fmt eq 'svg') {
    set terminal svg size 900,height dynamic font 'Sans,13'
} else {
    set terminal pngcairo size 900,height font 'Sans,12'
}
set output out
set grid lc rgb '#dddddd'
set key top right box opaque
set border lw 1.2
set datafile separator "\t"
# On a log axis spanning less than a few decades, gnuplot labels only the powers of ten, so
# that a narrow range has one label or none: label 1, 2 and 5 of every decade instead
# ('eval log_tics_y', 'eval log_tics_x'; x as 2×10^{12}, for FLOPs).
log_tics_y = "set ytics (); set mytics 10; do for [e=-15:15] { " . \
    "set ytics add (sprintf('%g', 10.0**e) 10.0**e, sprintf('%g', 2 * 10.0**e) 2 * 10.0**e, " . \
    "sprintf('%g', 5 * 10.0**e) 5 * 10.0**e) }"
log_tics_x = "set xtics (); set mxtics 10; do for [e=0:20] { " . \
    "set xtics add (sprintf('10^{%d}', e) 10.0**e, sprintf('2×10^{%d}', e) 2 * 10.0**e, " . \
    "sprintf('5×10^{%d}', e) 5 * 10.0**e) }"
# within about a decade: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 and 8 of it
log_tics_y_fine = "set ytics (); set mytics 1; do for [e=-15:15] { " . \
    "do for [m in '1 1.2 1.5 2 2.5 3 4 5 6 8'] { " . \
    "set ytics add (sprintf('%g', m * 10.0**e) m * 10.0**e) } }"
