#!/usr/bin/env bash
# All eight GPT-2-small and Llama-1.1B projection shapes (x[128, in] @ W[out, in]ᵀ) and the
# squares: OpenBLAS (../cpu-2026-12-05/openblas_projections.py, median of 7) then main's and the
# branch's full BenchmarkMatMul and BenchmarkMatMulProjection, ROUNDS times, at nice -10.
#   bash docs/measurements/cpu-2026-12-06b/run_projections.sh ROUNDS OUTFILE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=$1; out=$2
for r in $(seq "$rounds"); do
  echo "== round $r $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out"
  nice -n -10 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$here/../cpu-2026-12-05/openblas_projections.py" >> "$out" 2>&1
  for b in main final; do
    nice -n -10 "/tmp/sg2/$b.test" -test.run XXX -test.bench 'BenchmarkMatMul' -test.benchtime 0.3s 2>&1 | grep '^Benchmark' | sed "s|^|$b |" >> "$out"
  done
done
