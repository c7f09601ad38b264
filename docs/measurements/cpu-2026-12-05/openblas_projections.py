"""OpenBLAS sgemm through numpy for the shapes of backend/cpu's BenchmarkMatMul:
n×n squares and x[128, in] @ W[out, in]ᵀ projections (GPT-2 small, Llama 1.1B).
Reports GFLOP/s over wall time (median of 7 after a warm-up) and GFLOP per
second of the process's CPU time over the same 7 runs, as the Go benchmark does."""
import sys, time, numpy as np

def rate(f, flops):
    f()
    ts = []
    c0 = time.process_time()
    for _ in range(7):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    cpu = time.process_time() - c0
    return flops / sorted(ts)[3] / 1e9, 7 * flops / cpu / 1e9

for n in (512, 1024, 2048):
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    w, c = rate(lambda: a @ b, 2 * n**3)
    print(f"openblas square n={n}: {w:.1f} GFLOP/s {c:.1f} GFLOP/cpu-s")
rows = 128
for model, i, o in [("gpt2", 768, 2304), ("gpt2", 768, 768), ("gpt2", 768, 3072), ("gpt2", 3072, 768),
                    ("llama", 2048, 2048), ("llama", 2048, 256), ("llama", 2048, 5632), ("llama", 5632, 2048)]:
    x = np.random.rand(rows, i).astype(np.float32); wt = np.random.rand(o, i).astype(np.float32)
    w, c = rate(lambda: x @ wt.T, 2 * rows * i * o)
    print(f"openblas projection {model}_{i}to{o}: {w:.1f} GFLOP/s {c:.1f} GFLOP/cpu-s")
sys.stdout.flush()
