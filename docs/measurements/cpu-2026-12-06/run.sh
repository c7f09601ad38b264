#!/usr/bin/env bash
# The rounds behind this directory, run from the repository root on the sgemm branch:
#   go test -c -o /tmp/sg/final.test ./backend/cpu
#   (git archive eaccb3c | tar -x -C /tmp/sg/mainsrc) && (cd /tmp/sg/mainsrc && go test -c -o /tmp/sg/main.test ./backend/cpu)
set -euo pipefail
out=docs/measurements/cpu-2026-12-06
ob() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$@"; }
for r in 1 2 3; do
  for f in go_bench.txt openblas.txt go_bench_main.txt cpu_anchor.txt; do
    echo "== round $r $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $out/$f
  done
  /tmp/sg/final.test -test.run XXX -test.bench BenchmarkMatMul >> $out/go_bench.txt 2>&1
  ob docs/measurements/cpu-2026-12-05/openblas_projections.py >> $out/openblas.txt 2>&1
  /tmp/sg/main.test -test.run XXX -test.bench 'BenchmarkMatMul(Projection)?/^(512|1024|2048|gpt2_768to768|llama_2048to256)$' >> $out/go_bench_main.txt 2>&1
  bash ../shared/bench/cpu_anchor.sh batch=1 seq=128 >> $out/cpu_anchor.txt 2>&1
done
