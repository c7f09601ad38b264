#!/usr/bin/env bash
# The GPU machine's checks, run in one go (see ../shared/DEVICE.md): the op
# and fixture conformance suites on every adapter, WebGPU matmul and
# ExpertLinear GFLOP/s, and
# ia3 bench beside PEFT's anchor script in the same run.
#
# Expects in .bin/: ia3 and webgpu.test (built here with -ldflags "-s -w"),
# fixtures/peft (a copy of ../shared/fixtures/peft) and peft_anchor.py;
# and .gl/ with the Vulkan loader packages. Writes into $OUT.
# Usage: tools/h100_check.sh [fixtures] [conformance] [matmul] [bench] [anchor]
#
# The fixtures phase runs first: it makes the PEFT fixtures of the architectures
# listed "no fixture yet" (tools/fixtures_*.py, transformers + PEFT on this
# machine) into $OUT/peft-new, then runs the fixture conformance suite on them on
# every device. Commit $OUT/peft-new under testdata/fixtures/peft/ afterwards.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_RUNTIME_DIR=/tmp
phases=${*:-fixtures conformance matmul bench anchor}
has() { [[ " $phases " == *" $1 "* ]]; }
log() { echo "== $(date -u +%T) $*"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1
.bin/ia3 devices >"$OUT/devices.txt" 2>&1; cat "$OUT/devices.txt"

if has fixtures; then
  log "PEFT fixtures of the new architectures"
  python3 -c 'import torch, transformers, peft; print("versions:", torch.__version__, transformers.__version__, peft.__version__)' >"$OUT/fixture-versions.txt" 2>&1
  for gen in tools/fixtures_llama_family.py tools/fixtures_gpt_family.py tools/fixtures_bart.py \
             tools/fixtures_llama4.py tools/fixtures_deberta.py; do
    [ -f "$gen" ] || continue
    name=$(basename "$gen" .py)
    PYTHONUNBUFFERED=1 timeout 240 python3 "$gen" testdata/fixtures/make_fixtures.py "$OUT/peft-new" >"$OUT/$name.log" 2>&1
    echo "$name exit $?"; grep -c "FAILED" "$OUT/$name.log"
  done
  ls "$OUT/peft-new"
  timeout 200 .bin/ia3 conformance --fixtures "$OUT/peft-new" --device all --json "$OUT/fixtures-new.json" >"$OUT/fixtures-new.txt" 2>&1
  echo "exit $?"; grep -iE "summary|passed|failed" "$OUT/fixtures-new.txt" | tail -8
fi
if has conformance; then
  log "op conformance, every device"
  timeout 150 .bin/ia3 conformance --ops --device all --json "$OUT/ops.json" >"$OUT/ops.txt" 2>&1
  echo "exit $?"; grep -iE "summary|passed|failed" "$OUT/ops.txt" | tail -5
  log "fixture conformance, every device"
  timeout 200 .bin/ia3 conformance --fixtures .bin/fixtures --device all --json "$OUT/fixtures.json" >"$OUT/fixtures.txt" 2>&1
  echo "exit $?"
  timeout 100 .bin/ia3 conformance --fixtures testdata/fixtures --device all >>"$OUT/fixtures.txt" 2>&1
  echo "exit $?"; grep -iE "summary|passed|failed" "$OUT/fixtures.txt" | tail -8
fi
if has matmul; then
  log "WebGPU matmul and Linear, both tile kernels; ExpertLinear, every kernel beside Linear"
  timeout 200 .bin/webgpu.test -test.run '^$' -test.bench '^Benchmark(MatMul|Linear|ExpertLinear)$' -test.benchtime 10x >"$OUT/matmul.txt" 2>&1
  grep -E "Benchmark|ok|FAIL" "$OUT/matmul.txt"
fi
if has anchor; then
  log "PEFT anchor (cuBLAS + PEFT IA3)"
  PYTHONUNBUFFERED=1 timeout 240 python3 .bin/peft_anchor.py "$OUT/anchor.json" >"$OUT/anchor.log" 2>&1
  echo "exit $?"; tail -3 "$OUT/anchor.log"
fi
if has bench; then
  anchor=(); [ -s "$OUT/anchor.json" ] && anchor=(--anchor "$OUT/anchor.json")
  log "ia3 bench gpt2-small"
  timeout 150 .bin/ia3 bench --shape gpt2-small --batch 8 --seq 512 --device gpu:0 --steps 5 --warmup 2 "${anchor[@]}" >"$OUT/bench_gpt2.txt" 2>&1
  echo "exit $?"; cat "$OUT/bench_gpt2.txt"
  log "ia3 bench llama-1b"
  timeout 200 .bin/ia3 bench --shape llama-1b --batch 4 --seq 512 --device gpu:0 --steps 3 --warmup 1 "${anchor[@]}" >"$OUT/bench_llama.txt" 2>&1
  echo "exit $?"; cat "$OUT/bench_llama.txt"
  log "ia3 bench llama-1b with the 64×64 matmul kernel"
  IA3_WEBGPU_MATMUL=tile64 timeout 200 .bin/ia3 bench --shape llama-1b --batch 4 --seq 512 --device gpu:0 --steps 3 --warmup 1 >"$OUT/bench_llama_tile64.txt" 2>&1
  echo "exit $?"; cat "$OUT/bench_llama_tile64.txt"
  # Dispatches, submits and peak bytes per step (docs/measurements/dispatch-2026-12-06):
  # the same commands as lavapipe ran, whose counts must match the GPU's exactly.
  log "ia3 bench dispatch counts (gpt2-small, tiny-llama, batch 1 × 128)"
  timeout 120 .bin/ia3 bench --shape gpt2-small --batch 1 --seq 128 --device gpu:0 --steps 2 --warmup 1 --json >"$OUT/bench_dispatch_gpt2.json" 2>&1
  echo "exit $?"; grep -E '"(train_step|forward)_(dispatches|submits)"|"peak_mem_bytes"|"train_step_s"|"forward_s"' "$OUT/bench_dispatch_gpt2.json"
  timeout 60 .bin/ia3 bench --shape tiny-llama --batch 1 --seq 128 --device gpu:0 --steps 2 --warmup 1 --json >"$OUT/bench_dispatch_tiny_llama.json" 2>&1
  echo "exit $?"; grep -E '"(train_step|forward)_(dispatches|submits)"|"peak_mem_bytes"' "$OUT/bench_dispatch_tiny_llama.json"
fi
log done
tar czf "$OUT/results.tar.gz" -C "$OUT" --exclude results.tar.gz . 2>/dev/null
