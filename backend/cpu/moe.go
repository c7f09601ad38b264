package cpu

import (
	"fmt"
	"math"

	"github.com/ia3/ia3/backend"
)

// TopK writes, for each row of x [N, E], the indices of its k largest
// values in descending order, equal values going to the lower index; a row
// holding a NaN gives 0..k−1. Each pick is the greatest element ordered
// after the previous pick by (value descending, index ascending), so no
// per-row state beyond the last pick is needed (the WGSL kernel does the
// same).
func (b *Backend) TopK(xt backend.Tensor, k int) (backend.Tensor, error) {
	x, err := b.tensorOf("top_k", "x", xt)
	if err != nil {
		return nil, err
	}
	n, e := x.shape[0], x.shape[1]
	out := b.track(&tensor{owner: b, shape: []int{n, k}, dtype: backend.I32, i: make([]int32, n*k)})
	b.parallelFor(n, e*k, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			topKRow(x.f[r*e:(r+1)*e], out.i[r*k:(r+1)*k])
		}
	})
	return out, nil
}

// topKRow fills dst with the indices of the len(dst) largest values of row.
func topKRow(row []float32, dst []int32) {
	for _, v := range row {
		if math.IsNaN(float64(v)) {
			for j := range dst {
				dst[j] = int32(j)
			}
			return
		}
	}
	prev := -1
	for j := range dst {
		best := -1
		for c, v := range row {
			// c must come after the previous pick in the order.
			if prev >= 0 && (v > row[prev] || (v == row[prev] && c <= prev)) {
				continue
			}
			if best < 0 || v > row[best] {
				best = c
			}
		}
		dst[j] = int32(best)
		prev = best
	}
}

// ExpertLinear runs each slot of ids [N, k] through its expert's weight
// (see backend.Backend). The ids are on the host already, so each expert
// gathers its slots' rows of x into one matrix and runs the backend's own
// Linear (forward) or MatMul (backward) on it: the packed sgemm and the
// F16/BF16/Q8_0/NF4 weight paths, one call per expert that has slots.
func (b *Backend) ExpertLinear(xt backend.Tensor, ws []backend.Tensor, idsT backend.Tensor, o backend.ExpertOptions) (backend.Tensor, error) {
	const op = "expert_linear"
	x, err := b.tensorOf(op, "x", xt)
	if err != nil {
		return nil, err
	}
	ids, err := b.tensorOf(op, "ids", idsT)
	if err != nil {
		return nil, err
	}
	if err := checkIDs(op, ids.i, len(ws)); err != nil {
		return nil, err
	}
	w0 := ws[0].Shape()
	din, dout := w0[1], w0[0]
	if o.Backward {
		din, dout = w0[0], w0[1]
	}
	n, k := ids.shape[0], ids.shape[1]
	shared := len(x.shape) == 2
	out := b.newF32(n, k, dout)
	slots := make([][]int, len(ws))
	for s, id := range ids.i {
		slots[id] = append(slots[id], s)
	}
	for e, ss := range slots {
		if len(ss) == 0 {
			continue
		}
		rows := b.newF32Dirty(len(ss), din)
		for r, s := range ss {
			src := s
			if shared {
				src = s / k
			}
			copy(rows.f[r*din:(r+1)*din], x.f[src*din:(src+1)*din])
		}
		var y backend.Tensor
		if o.Backward {
			y, err = b.MatMul(rows, ws[e], backend.MatMulOptions{})
		} else {
			y, err = b.Linear(rows, ws[e], backend.LinearOptions{})
		}
		b.Free(rows)
		if err != nil {
			b.Free(out)
			return nil, fmt.Errorf("%s: expert %d: %w", op, e, err)
		}
		yt := y.(*tensor)
		for r, s := range ss {
			copy(out.f[s*dout:(s+1)*dout], yt.f[r*dout:(r+1)*dout])
		}
		b.Free(y)
	}
	return out, nil
}
