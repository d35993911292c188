#!/usr/bin/env bash
# make bench: training speed of the 784-512-256-32-256-512-784 autoencoder on Fashion-MNIST
# (ReLU, sigmoid output, MSE, Adam, batch 256) on 1 and 2 cores, next to the sgemm ceiling of
# the same shapes and, when python3-torch is installed, the PyTorch peer in ../shared/bench;
# the same for the convolutional autoencoder (channels 32,64, K = 32, batch 256); then a grid
# search's trials side by side on 1 and 2 threads.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${BENCH_EPOCHS:-3}
runs=${BENCH_RUNS:-3}
# the machine and the kernel first: figures from two machines, or two kernels, differ
echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
./dimsearch --version | sed -n 's/^BLAS kernel/BLAS kernel/p'
have_peer=$([ -f ../shared/bench/peer_torch_ae.py ] && /usr/bin/python3 -c 'import torch' \
  2>/dev/null && echo yes || true)
# images/s of "sgemm ceiling, N core" from bench_sgemm's output
ceiling_of() { sed -n "s/^sgemm ceiling, $1 cores\{0,1\} *: .*, *\([0-9]*\) images\/s.*/\1/p"; }
# "median (min-max)" of the numbers on stdin
median() {
  sort -n | awk '{ a[NR] = $1 } END {
    m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "%.0f (%.0f-%.0f)\n", m, a[1], a[NR] }'
}
mid() { median | cut -d' ' -f1; }
# The sgemm ceiling of the step's shapes (batch unsplit, the default), dimsearch's training on
# 1 and 2 cores, and the PyTorch peer on the same model, in one sitting, with the ratios: each
# measured $runs times, in turn, and its median taken (single runs of a shared machine vary by
# 10% and more). speed dense: the dense benchmark model over $epochs epochs of Fashion-MNIST;
# speed conv: the convolutional one over an epoch of 5,120 images (the peer: its repeats of 10
# steps on random batches, the same shapes and FLOPs).
speed() {
  local dir r t ips json setting ceiling train peer
  case $1 in
    dense)
      ceiling="build/bench_sgemm 256 1 32"
      train="--latent 32 --epochs $epochs"
      peer="../shared/bench/peer_torch_ae.py --latent 32 --epochs $epochs" ;;
    conv)
      ceiling="build/bench_sgemm conv 256 0 32"
      train="--arch conv --channels 32,64 --latent 32 --epochs 1 --n-train 5120"
      peer="../shared/bench/peer_torch_conv_ae.py" ;;
  esac
  dir=$(mktemp -d)
  for r in $(seq "$runs"); do
    echo "   round $r of $runs" >&2
    $ceiling > "$dir/ceiling"
    ceiling_of 1 < "$dir/ceiling" >> "$dir/c1"
    ceiling_of 2 < "$dir/ceiling" >> "$dir/c2"
    for t in 1 2; do
      json=$(./dimsearch train --dataset fashion-mnist $train --threads "$t" --quiet --json |
               tail -n 1)
      printf '%s\n' "$json" | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/' >> "$dir/ds$t"
      printf '%s\n' "$json" | sed 's/.*"test_mse":\([0-9.e-]*\).*/\1/' >> "$dir/mse$t"
      printf '%s\n' "$json" | sed 's/.*"train_sgemm_share":\([0-9.]*\).*/\1/' >> "$dir/share$t"
    done
    [ -n "$have_peer" ] || continue
    for setting in "1 default" "2 default" "2 PASSIVE"; do
      set -- $setting
      /usr/bin/python3 $peer --threads "$1" --omp-wait "$2" |
        sed -n 's/^RESULT.*"img_s_median": \([0-9.]*\).*/\1/p; s/^RESULT.* img\/s=\([0-9]*\).*/\1/p' \
        >> "$dir/peer-$1-$2"
    done
  done
  local c1 c2 ds1 ds2
  c1=$(mid < "$dir/c1")
  c2=$(mid < "$dir/c2")
  ds1=$(mid < "$dir/ds1")
  ds2=$(mid < "$dir/ds2")
  head -n 1 "$dir/ceiling"
  echo "images/s of training (validation excluded), medians of $runs runs (min-max):"
  printf 'sgemm ceiling, 1 core : %s\n' "$(median < "$dir/c1")"
  printf 'sgemm ceiling, 2 cores: %s\n' "$(median < "$dir/c2")"
  for t in 1 2; do
    printf 'dimsearch,     %d core%s: %s, %.0f%% of the ceiling, %.0f%% of the time in sgemm; test MSE %s\n' \
      "$t" "$([ "$t" -gt 1 ] && echo s || echo ' ')" "$(median < "$dir/ds$t")" \
      "$(awk -v a="$(eval echo "\$ds$t")" -v b="$([ "$t" = 1 ] && echo "$c1" || echo "$c2")" \
           'BEGIN { print 100 * a / b }')" \
      "$(awk '{ print 100 * $1 }' "$dir/share$t" | mid)" \
      "$(sort -u "$dir/mse$t" | tr '\n' ' ' | sed 's/ $//')"
  done
  if [ -z "$have_peer" ]; then
    echo "PyTorch peer skipped: apt-get install -y python3-torch python3-numpy, and keep"
    echo "../shared/bench beside the checkout"
    rm -rf "$dir"
    return
  fi
  local p1 p2d p2p best2
  p1=$(mid < "$dir/peer-1-default")
  p2d=$(mid < "$dir/peer-2-default")
  p2p=$(mid < "$dir/peer-2-PASSIVE")
  printf 'PyTorch peer,  1 thread : %s\n' "$(median < "$dir/peer-1-default")"
  printf 'PyTorch peer,  2 threads: %s (default wait), %s (PASSIVE)\n' \
    "$(median < "$dir/peer-2-default")" "$(median < "$dir/peer-2-PASSIVE")"
  best2=$(printf '%s\n%s\n%s\n' "$p1" "$p2d" "$p2p" | sort -n | tail -n 1)
  awk -v a="$ds1" -v b="$p1" -v c="$ds2" -v d="$best2" 'BEGIN {
    if (b > 0) printf "dimsearch / PyTorch, 1 core : %.2fx\n", a / b
    if (d > 0) printf "dimsearch / PyTorch, 2 cores: %.2fx (against its best setting on 2 cores)\n", c / d }'
  rm -rf "$dir"
}
echo "== the dense benchmark autoencoder 784-512-256-32-256-512-784, batch 256"
speed dense
echo
echo "== the convolutional autoencoder (1x28x28, channels 32,64, kernel 3, K = 32), batch 256"
speed conv
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  # a kernel set in the environment (here: $OPENBLAS_CORETYPE) may not be the CPU's best:
  # the same figures with it removed, OpenBLAS's own choice (or dimsearch's, on AVX-512)
  echo
  echo "== again with OPENBLAS_CORETYPE unset (it was $OPENBLAS_CORETYPE)"
  (unset OPENBLAS_CORETYPE; ./dimsearch --version | sed -n 's/^BLAS kernel/BLAS kernel/p'
   speed dense; speed conv)
fi
echo
echo "== grid search over 8 latent sizes, Fashion-MNIST subset, 1 and 2 threads"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/bench.ini" <<'INI'
[bench-grid]
dataset = fashion-mnist
n_train = 5000
n_val = 1000
n_test = 1000
hidden = 256
epochs = 5
strategies = grid
grid = 4,8,12,16,24,32,48,64
INI
# best of three fresh runs for each thread count (the machine is shared and noisy)
for t in 1 2; do
  best=""
  for rep in 1 2 3; do
    rm -rf "$work/t$t.db"*
    start=$(date +%s.%N)
    ./dimsearch run --config "$work/bench.ini" --experiment bench-grid --db "$work/t$t.db" \
      --threads "$t" --quiet > /dev/null
    end=$(date +%s.%N)
    best=$(awk -v a="$start" -v b="$end" -v m="$best" 'BEGIN { d = b - a; print (m == "" || d < m) ? d : m }')
  done
  eval "wall$t=$best"
done
same=$(sqlite3 "$work/t1.db" 'select trial_key, val_mse from trial order by 1' | md5sum)
same2=$(sqlite3 "$work/t2.db" 'select trial_key, val_mse from trial order by 1' | md5sum)
printf 'grid search, 1 thread : %6.2f s (best of 3, Fashion-MNIST loading included)\n' "$wall1"
printf 'grid search, 2 threads: %6.2f s   speed-up %.2fx   (same results: %s)\n' "$wall2" \
  "$(awk -v a="$wall1" -v b="$wall2" 'BEGIN { print a / b }')" "$([ "$same" = "$same2" ] && echo yes || echo NO)"
