#!/usr/bin/env bash
# make bench: training speed of the 784-512-256-32-256-512-784 autoencoder on Fashion-MNIST
# (ReLU, sigmoid output, MSE, Adam, batch 256) on 1 and 2 cores, next to the sgemm ceiling of
# the same shapes and, when python3-torch is installed, the PyTorch peer in ../shared/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${BENCH_EPOCHS:-3}
# the machine and the kernel first: figures from two machines, or two kernels, differ
echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
./dimsearch --version | sed -n 's/^BLAS kernel/BLAS kernel/p'
# the sgemm ceiling of the step's shapes, and dimsearch's training on 1 and 2 cores
speed() {
  echo "== sgemm ceiling"
  build/bench_sgemm 256 2 32
  echo
  echo "== dimsearch train, $epochs epochs (images/s and GFLOP/s exclude validation passes)"
  for t in 1 2; do
    json=$(./dimsearch train --dataset fashion-mnist --latent 32 --epochs "$epochs" --threads "$t" \
             --quiet --json | tail -n 1)
    ips=$(printf '%s' "$json" | sed 's/.*"images_per_s":\([0-9.]*\).*/\1/')
    gf=$(printf '%s' "$json" | sed 's/.*"train_gemm_gflops_per_s":\([0-9.]*\).*/\1/')
    mse=$(printf '%s' "$json" | sed 's/.*"test_mse":\([0-9.e-]*\).*/\1/')
    printf 'dimsearch, %d core%s: %8.0f images/s  %6.1f GFLOP/s  test MSE %s\n' "$t" \
      "$([ "$t" -gt 1 ] && echo s || echo ' ')" "$ips" "$gf" "$mse"
  done
}
speed
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  # a kernel set in the environment (here: $OPENBLAS_CORETYPE) may not be the CPU's best:
  # the same figures with it removed, OpenBLAS's own choice (or dimsearch's, on AVX-512)
  echo
  echo "== again with OPENBLAS_CORETYPE unset (it was $OPENBLAS_CORETYPE)"
  (unset OPENBLAS_CORETYPE; ./dimsearch --version | sed -n 's/^BLAS kernel/BLAS kernel/p'; speed)
fi
peer=../shared/bench/peer_torch_ae.py
echo
if [ -f "$peer" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "== PyTorch peer ($peer), same model, $epochs epochs"
  for t in 1 2; do
    /usr/bin/python3 "$peer" --threads "$t" --latent 32 --epochs "$epochs" | grep '^RESULT' || true
  done
else
  echo "== PyTorch peer skipped: install python3-torch python3-numpy and keep ../shared/bench beside the checkout"
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
