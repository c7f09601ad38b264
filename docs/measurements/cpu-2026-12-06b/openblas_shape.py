"""OpenBLAS sgemm through numpy for one shape of backend/cpu's benchmarks:
  openblas_shape.py square N          n×n @ n×n
  openblas_shape.py proj IN OUT       x[128, IN] @ W[OUT, IN]ᵀ
GFLOP/s over wall time, median of 9 runs after a warm-up, and the
process's CPU time over those runs' wall time ("cores"): about 2 when
OpenBLAS's two threads had both CPUs, lower when another job took one."""
import sys, time, numpy as np
kind = sys.argv[1]
if kind == "square":
    n = int(sys.argv[2]); a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    f, flops, name = (lambda: a @ b), 2 * n**3, f"square n={n}"
else:
    i, o = int(sys.argv[2]), int(sys.argv[3])
    x = np.random.rand(128, i).astype(np.float32); wt = np.random.rand(o, i).astype(np.float32)
    f, flops, name = (lambda: x @ wt.T), 2 * 128 * i * o, f"projection {i}to{o}"
f()
ts = []
c0, w0 = time.process_time(), time.perf_counter()
for _ in range(9):
    t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
cores = (time.process_time() - c0) / (time.perf_counter() - w0)
print(f"openblas {name}: {flops / sorted(ts)[4] / 1e9:.1f} GFLOP/s {cores:.2f} cores")
