#!/usr/bin/env bash
# Run cmocka test programs, show their output, and close with one line of real counts:
# "tests: N passed, N failed". A program that crashes counts as one more failure.
set -u
passed=0
failed=0
for t in "$@"; do
  echo "== $t"
  out=$("$t" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  f=$(printf '%s\n' "$out" | sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
    echo "!! $t exited with status $rc before reporting its results"
    failed=$((failed + 1))
  fi
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
