//go:build cgo && !nowebgpu

package webgpu

import (
	"fmt"

	"github.com/ia3/ia3/backend"
)

// gatherWG is the workgroup size of gather.wgsl.
const gatherWG = 256

// scatterThreads is about how many threads ScatterAddRows runs: enough to
// fill a GPU, each owning one column of a block of output rows.
const scatterThreads = 1 << 16

// gatherParams mirrors GatherParams in shaders/gather.wgsl.
type gatherParams struct {
	N     uint32
	D     uint32
	V     uint32
	DType uint32
	NIDs  uint32
	RPB   uint32
	Bit   uint32
	Lo    uint32
}

// Messages of the device error flag bits (fixed strings: the backend keeps
// at most 32 distinct ones).
const (
	gatherRangeMsg  = "an id is outside the table's rows [0, V); its row of the result is zeros"
	scatterRangeMsg = "an id is outside [0, rows); its row of src was dropped"
)

// idsOf checks ids is an I32 vector.
func idsOf(op string, ids *tensor) error {
	if len(ids.shape) != 1 || ids.dtype != backend.I32 {
		return fmt.Errorf("webgpu: %s: ids %v %s: want I32 [N]", op, ids.shape, ids.dtype)
	}
	return nil
}

// Gather picks rows of table [V, D] (F32, F16 or BF16, widened to F32) by
// the I32 ids [N], giving [N, D]. An id outside [0, V) reads nothing (its
// row of the result is zeros) and is reported as an error by the next Sync
// or download.
func (b *Backend) Gather(table, ids backend.Tensor) (backend.Tensor, error) {
	const op = "Gather"
	if st := b.asSplit(table); st != nil {
		return b.gatherSplit(st, ids)
	}
	tt, err := b.tensorOf(op, table)
	if err != nil {
		return nil, err
	}
	it, err := gatherIDs(b, op, tt, ids)
	if err != nil {
		return nil, err
	}
	v, d := tt.shape[0], tt.shape[1]
	out, err := b.alloc(op, backend.F32, it.n, d)
	if err != nil || out.n == 0 {
		return out, err
	}
	flag, bit, err := b.errorFlag(op, gatherRangeMsg)
	if err != nil {
		b.Free(out)
		return nil, err
	}
	entry, w := "gather", 1
	if tt.dtype == backend.F32 && d%4 == 0 {
		entry, w = "gather4", 4 // four elements a thread, rows stay 16-byte aligned
	}
	p := gatherParams{N: uint32(out.n / w), D: uint32(d / w), V: uint32(v), DType: dtCode(tt.dtype), Bit: bit}
	if err := b.dispatch("gather.wgsl", entry, &p, b.groups1D(out.n/w, gatherWG), out, tt, it, flag); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s table %v %s ids %v: %w", op, tt.shape, tt.dtype, it.shape, err)
	}
	return out, nil
}

// gatherIDs checks the table of a Gather and returns its ids.
func gatherIDs(b *Backend, op string, tt *tensor, ids backend.Tensor) (*tensor, error) {
	it, err := b.tensorOf(op, ids)
	if err != nil {
		return nil, err
	}
	if len(tt.shape) != 2 || !tt.dtype.IsFloat() || tt.dtype.IsQuantized() {
		return nil, fmt.Errorf("webgpu: %s: table %v %s: want F32, F16 or BF16 [V, D]", op, tt.shape, tt.dtype)
	}
	return it, idsOf(op, it)
}

// ScatterAddRows returns [rows, D] zeros with each row i of src [N, D] added
// into row ids[i]: the backward of Gather. Each thread owns one column of a
// block of output rows, so no two threads write one element and the sums
// run in the order of the ids (deterministic). An id outside [0, rows) adds
// nowhere and is reported as an error by the next Sync or download.
func (b *Backend) ScatterAddRows(rows int, ids, src backend.Tensor) (backend.Tensor, error) {
	const op = "ScatterAddRows"
	it, err := b.tensorOf(op, ids)
	if err != nil {
		return nil, err
	}
	st, err := b.tensorOf(op, src)
	if err != nil {
		return nil, err
	}
	if err := idsOf(op, it); err != nil {
		return nil, err
	}
	if len(st.shape) != 2 || st.dtype != backend.F32 || st.shape[0] != it.n {
		return nil, fmt.Errorf("webgpu: %s: src %v %s for ids %v: want F32 [N, D]", op, st.shape, st.dtype, it.shape)
	}
	if rows < 0 {
		return nil, fmt.Errorf("webgpu: %s: negative row count %d", op, rows)
	}
	d := st.shape[1]
	out, err := b.alloc(op, backend.F32, rows, d)
	if err != nil {
		return nil, err
	}
	if out.n == 0 {
		return out, nil
	}
	blocks := min(rows, max(1, scatterThreads/d))
	rpb := (rows + blocks - 1) / blocks
	blocks = (rows + rpb - 1) / rpb
	flag, bit, err := b.errorFlag(op, scatterRangeMsg)
	if err != nil {
		b.Free(out)
		return nil, err
	}
	p := gatherParams{N: uint32(d * blocks), D: uint32(d), V: uint32(rows), NIDs: uint32(it.n), RPB: uint32(rpb), Bit: bit}
	if err := b.dispatch("gather.wgsl", "scatter_add_rows", &p, b.groups1D(d*blocks, gatherWG), out, st, it, flag); err != nil {
		b.Free(out)
		return nil, fmt.Errorf("webgpu: %s rows=%d ids %v src %v: %w", op, rows, it.shape, st.shape, err)
	}
	return out, nil
}
