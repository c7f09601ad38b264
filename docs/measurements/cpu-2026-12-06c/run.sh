#!/usr/bin/env bash
# The rounds behind this directory, run from the repository root on main after the sgemm2 merge:
#   go test -c -o /tmp/m3/cpu.test ./backend/cpu && go build -o /tmp/m3/ia3 ./cmd/ia3
# Each round runs, back to back: every BenchmarkMatMul product (squares and the GPT-2-small and
# Llama-1.1B projection shapes), OpenBLAS on the same shapes (numpy, 2 threads), the shared CPU
# anchor (OpenBLAS squares and a PyTorch CPU (IA)³ step on GPT-2-small, 1 × 128), then
# ia3 bench on the same shape with --anchor pointing at that round's anchor output.
set -euo pipefail
out=docs/measurements/cpu-2026-12-06c
ob() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$@"; }
for r in 1 2 3; do
  for f in go_bench.txt openblas.txt cpu_anchor.txt ia3_bench.txt; do
    echo "== round $r $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $out/$f
  done
  /tmp/m3/cpu.test -test.run XXX -test.bench 'BenchmarkMatMul' >> $out/go_bench.txt 2>&1
  ob docs/measurements/cpu-2026-12-05/openblas_projections.py >> $out/openblas.txt 2>&1
  bash ../shared/bench/cpu_anchor.sh batch=1 seq=128 > /tmp/m3/anchor_$r.txt 2>&1
  cat /tmp/m3/anchor_$r.txt >> $out/cpu_anchor.txt
  /tmp/m3/ia3 bench --shape gpt2-small --device cpu --batch 1 --seq 128 --steps 5 --warmup 1 --generate 16 \
    --anchor /tmp/m3/anchor_$r.txt >> $out/ia3_bench.txt 2>&1
done
