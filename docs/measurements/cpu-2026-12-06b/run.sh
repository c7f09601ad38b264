#!/usr/bin/env bash
# Same-minute rounds behind this directory, run from the repository root:
#   go test -c -o /tmp/sg2/new.test ./backend/cpu                      (this branch)
#   (cd /work/main && go test -c -o /tmp/sg2/main.test ./backend/cpu)  (main at db990d3)
#   bash docs/measurements/cpu-2026-12-06b/run.sh ROUNDS OUTFILE [BENCHTIME]
# BINS (default "main new") names the test binaries under /tmp/sg2 to run
# after OpenBLAS for each shape; variants under trial ran as extra names.
# With NICE=-10 in the environment every command of a round (OpenBLAS, main
# and branch alike) runs at that nice level, so other engineers' compiles
# take less of the two cores during the few seconds each shape runs.
# Each round runs, for each of the five goal shapes in turn, OpenBLAS
# (numpy, 2 threads, median of 9), main's BenchmarkMatMul and this branch's,
# back to back, so the three figures of one shape come from the same few
# seconds of the shared machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=$1; out=$2; bt=${3:-0.3s}
pr=(); [ -n "${NICE:-}" ] && pr=(nice -n "$NICE")
ob() { "${pr[@]}" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/openblas_shape.py" "$@"; }
gb() { "${pr[@]}" "$1" -test.run XXX -test.bench "$2" -test.benchtime "$bt" 2>&1 | grep '^Benchmark' | sed "s|^|$(basename "$1" .test) |"; }
for r in $(seq "$rounds"); do
  echo "== round $r $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
  for s in "square 512:BenchmarkMatMul/^512$" "square 1024:BenchmarkMatMul/^1024$" "square 2048:BenchmarkMatMul/^2048$" \
           "proj 768 768:BenchmarkMatMulProjection/^gpt2_768to768$" "proj 2048 256:BenchmarkMatMulProjection/^llama_2048to256$"; do
    # shellcheck disable=SC2086
    ob ${s%%:*} >> "$out" 2>&1
    for b in ${BINS:-main new}; do gb "/tmp/sg2/$b.test" "${s#*:}" >> "$out"; done
  done
done
