#!/usr/bin/env bash
# The test suite, one pytest process per top-level test folder (`make test`).
#
# One process for everything accumulated the native libraries and thread pools
# of every runtime the suite loads (OpenVINO, ONNX Runtime, spconv, mmcv ops,
# forked data-loader workers) and was seen to crash the interpreter (SIGSEGV)
# late in the run; separate processes keep each folder's tests as they would
# run alone. Every folder runs even if one fails; the exit code is non-zero
# if any failed, and the last line sums the counts.
set -u
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}; shift || true
groups=$(ls -d tests/*/ | grep -v '^tests/data/$'; ls tests/test_*.py)
status=0; passed=0; failed=0; t0=$(date +%s)
for group in $groups; do
  echo "== pytest $group"
  out=$(mktemp)
  "$python" -m pytest "$group" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^(=+ )?[0-9]+ [a-z]+.* in [0-9.]+s' "$out" | grep -E 'passed|failed|error' | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
  f=$(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s += $1} END {if (NR) print s}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  rm -f "$out"
  if [ "$rc" -ne 0 ]; then status=1; [ -z "$f" ] && failed=$((failed + 1)); fi
done
echo "suite: $(( $(date +%s) - t0 )) s"
echo "$passed passed, $failed failed"
exit $status
