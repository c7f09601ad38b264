"""Per-round table of run_projections.sh's output: GFLOP/s of OpenBLAS,
main and the branch (final) per shape, their ratios, and the cores the
branch's run used (GFLOP/s ÷ GFLOP/cpu-s), rounds separated by '/'.
  python3 table_projections.py FILE"""
import re, sys, collections
rows = collections.defaultdict(lambda: collections.defaultdict(dict)); r = 0
for l in open(sys.argv[1]):
    if l.startswith('=='):
        r += 1; continue
    m = re.match(r"openblas (?:square n=(\d+)|projection (\S+)): ([\d.]+) GFLOP/s ([\d.]+) GFLOP/cpu-s", l)
    if m:
        rows[m[1] or m[2]][r]['openblas'] = float(m[3]); continue
    m = re.match(r"(\S+) Benchmark\S*/(\S+?)-\d+\s.*?([\d.]+) GFLOP/cpu-s\s+([\d.]+) GFLOP/s", l)
    if m:
        rows[m[2]][r][m[1]] = float(m[4]); rows[m[2]][r][m[1] + 'u'] = float(m[4]) / float(m[3])
print("| shape | OpenBLAS GFLOP/s | main GFLOP/s | branch GFLOP/s | branch/OpenBLAS | main/OpenBLAS | branch/main | branch cores |")
print("|---|---|---|---|---|---|---|---|")
for s, rr in rows.items():
    v = [d for d in rr.values() if {'openblas', 'main', 'final'} <= d.keys()]
    f = lambda k: "/".join("%.0f" % d[k] for d in v)
    g = lambda a, b: "/".join("%.2f" % (d[a] / d[b]) for d in v)
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (s, f('openblas'), f('main'), f('final'), g('final', 'openblas'), g('main', 'openblas'), g('final', 'main'), "/".join("%.2f" % d['finalu'] for d in v)))
