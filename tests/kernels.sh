#!/usr/bin/env bash
# make test-kernels: run the plain test programs once under each OpenBLAS kernel this CPU can
# execute (OPENBLAS_CORETYPE=K), after checking that OpenBLAS really uses K; one line per
# kernel, then a summary. Exit status 1 when a kernel fails or none could run. Not part of
# 'make test' or CI: about a minute per kernel on 2 cores. KERNELS="Haswell Zen" runs only
# those. Logs: build/kernels/K.log.
set -u
cd "$(dirname "$0")/.."

# Each kernel of OpenBLAS 0.3.21's DYNAMIC_ARCH x86-64 build tried here, with the CPU flags
# (as /proc/cpuinfo names them) its code needs. A kernel is never forced on a CPU that lacks
# one: it would stop on an illegal instruction, or OpenBLAS would quietly run another.
rules=(
  "Prescott    sse2 pni"
  "Nehalem     ssse3 sse4_1 sse4_2"
  "Sandybridge sse4_2 avx"
  "Haswell     avx2 fma"
  "Zen         avx2 fma"
  "SkylakeX    avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd"
  "Cooperlake  avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd avx512_bf16"
)

if [ "$#" -eq 0 ]; then
  echo "usage: tests/kernels.sh build/tests/test_..." >&2
  exit 2
fi
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2)
if [ -z "$flags" ]; then
  echo "test-kernels: no x86 CPU flags in /proc/cpuinfo, so no kernel can be chosen safely"
  exit 1
fi
flags=" $flags "

wanted=${KERNELS:-}
for k in $wanted; do
  printf '%s\n' "${rules[@]}" | grep -q "^$k " ||
    { echo "test-kernels: no CPU-flag rule for kernel '$k' (known: $(printf "%s\n" "${rules[@]}" | cut -d" " -f1 | paste -sd" "))"; exit 2; }
done

build/blas_info
mkdir -p build/kernels
passed_kernels=""
failed_kernels=""
skipped=""
for rule in "${rules[@]}"; do
  read -r kernel needs <<<"$rule"
  if [ -n "$wanted" ] && ! printf ' %s ' $wanted | grep -q " $kernel "; then
    continue
  fi
  missing=""
  for flag in $needs; do
    case "$flags" in *" $flag "*) ;; *) missing="$missing $flag" ;; esac
  done
  if [ -n "$missing" ]; then
    echo "kernel $kernel: skipped (the CPU lacks$missing)"
    skipped="$skipped $kernel"
    continue
  fi
  in_use=$(OPENBLAS_CORETYPE=$kernel build/blas_info --core)
  if [ "$in_use" != "$kernel" ]; then
    echo "kernel $kernel: failed: OpenBLAS runs $in_use with OPENBLAS_CORETYPE=$kernel" \
         "(a build without DYNAMIC_ARCH cannot switch kernels)"
    failed_kernels="$failed_kernels $kernel"
    continue
  fi
  log=build/kernels/$kernel.log
  OPENBLAS_CORETYPE=$kernel tests/run.sh "$@" >"$log" 2>&1
  rc=$?
  counts=$(tail -n 1 "$log" | sed -n 's/^tests: \(.*\)$/\1/p')
  echo "kernel $kernel: ${counts:-no count (see $log)}"
  if [ "$rc" -ne 0 ] || [ -z "$counts" ]; then
    grep '^\[  FAILED  \] test_' "$log" | sort -u | sed 's/^\[  FAILED  \] /  failed: /'
    failed_kernels="$failed_kernels $kernel"
  else
    passed_kernels="$passed_kernels $kernel"
  fi
done

n_passed=$(echo $passed_kernels | wc -w)
n_failed=$(echo $failed_kernels | wc -w)
echo "test-kernels: $n_passed passed:${passed_kernels:- none}; $n_failed failed:${failed_kernels:- none}" \
     "(logs in build/kernels/); skipped:${skipped:- none}"
[ "$n_failed" -eq 0 ] && [ "$n_passed" -gt 0 ]
