"""Same-round ratios from run.sh's output: branch / OpenBLAS, main / OpenBLAS
and branch / main per shape, min–max over rounds (median in brackets).
  python3 ratios.py [--clean] FILE...
--clean keeps only the shapes' rounds in which no other job took a core:
each Go run used at least 1.65 cores (GFLOP/s ÷ GFLOP/cpu-s) and OpenBLAS,
whose threads spin, at least 1.8 (where its output says; older files
lack the figure)."""
import re, sys, collections, statistics
rows = collections.defaultdict(lambda: collections.defaultdict(list))
rnd = 0
clean = "--clean" in sys.argv
files = [a for a in sys.argv[1:] if a != "--clean"]
shape_of = {"square n=512": "512", "square n=1024": "1024", "square n=2048": "2048",
            "projection 768to768": "gpt2_768to768", "projection 2048to256": "llama_2048to256"}
lines = [l for f in files for l in open(f)]
for line in lines:
    if line.startswith("== round"):
        rnd += 1; continue
    m = re.match(r"openblas (.*): ([\d.]+) GFLOP/s(?: ([\d.]+) cores)?", line)
    if m:
        cores = float(m[3]) if m[3] else 2.0
        rows[shape_of[m[1]]][rnd].append(("openblas", float(m[2]), cores >= 1.8)); continue
    m = re.match(r"(\S+) Benchmark\S*/(\S+?)-\d+\s.*?([\d.]+) GFLOP/cpu-s\s+([\d.]+) GFLOP/s", line)
    if m:
        rows[m[2]][rnd].append((m[1], float(m[4]), float(m[4]) / float(m[3]) >= 1.65))
def rng(v): return f"{min(v):.2f}–{max(v):.2f} ({statistics.median(v):.2f})" if v else "-"
names = sorted({v[0] for r in rows.values() for vals in r.values() for v in vals} - {"openblas", "main"})
for name in names:
    print(f"\n{name} (main = main.test; rounds where OpenBLAS, main and {name} all ran{', undisturbed' if clean else ''})\n")
    print(f"| shape | rounds | OpenBLAS GFLOP/s | main GFLOP/s | {name} GFLOP/s | {name}/OpenBLAS | main/OpenBLAS | {name}/main |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in ["512", "1024", "2048", "gpt2_768to768", "llama_2048to256"]:
        o, mn, nw, r1, r2, r3 = [], [], [], [], [], []
        for rd, vals in sorted(rows[shape].items()):
            d = {v[0]: v[1] for v in vals}
            if not {"openblas", "main", name} <= d.keys(): continue
            if clean and not all(v[2] for v in vals if v[0] in ("openblas", "main", name)): continue
            o.append(d["openblas"]); mn.append(d["main"]); nw.append(d[name])
            r1.append(d[name] / d["openblas"]); r2.append(d["main"] / d["openblas"]); r3.append(d[name] / d["main"])
        f = lambda v: f"{min(v):.0f}–{max(v):.0f}" if v else "-"
        print(f"| {shape} | {len(o)} | {f(o)} | {f(mn)} | {f(nw)} | {rng(r1)} | {rng(r2)} | {rng(r3)} |")
