#!/usr/bin/env bash
# make bench-mpi: a grid over 16 widths on 5,000 Fashion-MNIST images, run on 1 and on 2 MPI
# ranks of one thread each, each into a fresh database, beside run --plan's projection of the
# same two runs, and the ceiling this machine sets: two runs that share nothing, side by
# side. The speed-up is measured, not assumed: two cores that share a memory bus or a
# physical core, or another load, show in the ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
ini=$(mktemp -d)/bench-mpi.ini
trap 'rm -rf "$(dirname "$ini")"' EXIT
cat >"$ini" <<'INI'
[bench-mpi]
dataset = fashion-mnist
n_train = 5000
n_val   = 1000
n_test  = 1000
hidden  = 256
epochs  = 20
strategies = grid
grid    = 1..16
INI
root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
kernel=$(./dimsearch --version | sed -n 's/^BLAS kernel: //p')
echo "cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); BLAS kernel: $kernel"
echo "== run --plan (timed now, one thread per rank)"
./dimsearch run --config "$ini" --experiment bench-mpi --threads 1 --plan --ranks 1,2
for n in 1 2; do
  db=$(dirname "$ini")/ranks-$n.db
  t0=$(date +%s.%N)
  mpirun "${root[@]}" -np "$n" ./dimsearch-mpi run \
    --config "$ini" --experiment bench-mpi --db "$db" --threads 1 --quiet >/dev/null
  t1=$(date +%s.%N)
  wall=$(awk "BEGIN { print $t1 - $t0 }")
  printf 'measured: %d rank%s, 1 thread each: %.1f s\n' "$n" "$([ "$n" -gt 1 ] && echo s)" "$wall"
  eval "wall_$n=$wall"
done
printf 'measured speed-up, 2 ranks against 1: %.2fx\n' "$(awk "BEGIN { print $wall_1 / $wall_2 }")"
# what this machine's two cores give two processes that share nothing: the ceiling of any
# scheduler here (a virtual machine's two cores may share one physical core)
d=$(dirname "$ini")
t0=$(date +%s.%N)
for k in a b; do
  ./dimsearch run --config "$ini" --experiment bench-mpi --db "$d/alone-$k.db" --threads 1 \
    --quiet >/dev/null &
done
wait
t1=$(date +%s.%N)
both=$(awk "BEGIN { print $t1 - $t0 }")
printf 'ceiling: two independent 1-rank runs side by side, %.1f s: %.2fx the work of one in its time\n' \
  "$both" "$(awk "BEGIN { print 2 * $wall_1 / $both }")"
