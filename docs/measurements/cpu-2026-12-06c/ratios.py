"""Per-round ia3 / OpenBLAS GFLOP/s ratios from go_bench.txt and openblas.txt (same round numbers)."""
import re, collections
def rounds(path, pat):
    out, r = collections.defaultdict(dict), 0
    for line in open(path):
        m = re.match(r"== round (\d+)", line)
        if m: r = int(m.group(1)); continue
        m = re.search(pat, line)
        if m: out[r][m.group(1)] = float(m.group(2))
    return out
go = rounds("go_bench.txt", r"BenchmarkMatMul(?:Projection)?/(\w+)-\d+\s.*?([\d.]+) GFLOP/s")
ob = rounds("openblas.txt", r"openblas (?:square n=|projection )(\w+): ([\d.]+) GFLOP/s")
print("| product | ia3 GFLOP/s (rounds) | OpenBLAS GFLOP/s | ia3 / OpenBLAS per round |")
print("|---|---|---|---|")
for k in go[1]:
    rs = sorted(r for r in go if k in go[r] and k in ob[r])
    print(f"| {k} | {' / '.join('%.0f' % go[r][k] for r in rs)} | {' / '.join('%.0f' % ob[r][k] for r in rs)} | "
          f"{' / '.join('%.2f' % (go[r][k] / ob[r][k]) for r in rs)} |")
