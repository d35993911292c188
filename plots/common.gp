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
