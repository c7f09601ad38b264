#!/usr/bin/env bash
# Alternates the op benchmarks of the base copy and the branch, 5 rounds each.
set -u
out=$1
for round in 1 2 3 4 5; do
  for side in base branch; do
    dir=/tmp/cpuops-base; [ $side = branch ] && dir=/work/wt-cpu-ops
    (cd $dir && go test -count=1 -run XXX -bench 'Softmax|LayerNorm|GELU|MulRow|CrossEntropy' -benchtime 30x ./backend/cpu/ 2>&1 | grep '^Benchmark' | sed "s/^/$side /")
  done
done > $out
