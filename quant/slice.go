package quant

import "fmt"

// NF4GroupElements is the number of elements one NF4 double-quantization
// group covers (NF4GroupBlocks blocks of NF4BlockSize): a row range whose
// first element starts a group carries whole groups of its own.
const NF4GroupElements = NF4BlockSize * NF4GroupBlocks

// RowGranularity returns the smallest g > 0 such that a [rows, cols] matrix
// in f may be cut after any multiple of g rows into standalone matrices
// (SliceRows) that dequantize exactly as the rows of the whole. Q8_0 keeps
// its codes and scales per row, so g is 1; NF4 shares double-quantization
// groups of NF4GroupElements across rows, so g·cols must be a multiple of
// NF4GroupElements. It returns 0 for None and unknown formats and for cols
// not positive.
func RowGranularity(f Format, cols int) int {
	switch {
	case cols <= 0:
		return 0
	case f == Q8_0:
		return 1
	case f == NF4:
		return NF4GroupElements / gcd(cols, NF4GroupElements)
	}
	return 0
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// SliceRows returns rows [r0, r1) of data, the storage of a [rows, cols]
// matrix in f, as the storage of a standalone [r1-r0, cols] matrix in the
// same layout whose Dequantize equals those rows of the whole bit for bit:
// for Q8_0 its codes and block scales; for NF4 its codes, its blocks'
// absmax codes, its groups' float32 scales and the whole matrix's offset.
// r0 must be a multiple of RowGranularity, and so must r1 unless it is
// rows (the last slice may end with a short group). It lets a backend hold
// a matrix too large for one buffer in several.
func SliceRows(f Format, data []byte, rows, cols, r0, r1 int) ([]byte, error) {
	m, err := NewMatrix(f, data, rows, cols)
	if err != nil {
		return nil, err
	}
	g := RowGranularity(f, cols)
	if r0 < 0 || r1 <= r0 || r1 > rows {
		return nil, fmt.Errorf("quant: %v [%d, %d]: rows [%d, %d) are not a non-empty range inside the matrix", f, rows, cols, r0, r1)
	}
	if r0%g != 0 || (r1 != rows && r1%g != 0) {
		return nil, fmt.Errorf("quant: %v [%d, %d]: rows [%d, %d) do not start and end on a multiple of %d rows (whole double-quantization groups)",
			f, rows, cols, r0, r1, g)
	}
	l, err := NewLayout(f, r1-r0, cols)
	if err != nil {
		return nil, err
	}
	out := make([]byte, l.Total)
	e0, e1 := r0*cols, r1*cols
	b0, b1 := e0/f.BlockSize(), e1/f.BlockSize()
	switch f {
	case Q8_0:
		copy(out, m.data[e0:e1])
		copy(out[l.ScalesOffset:], m.data[m.ScalesOffset+2*b0:m.ScalesOffset+2*b1])
	case NF4:
		copy(out, m.data[e0/2:e1/2])
		copy(out[l.ScalesOffset:], m.data[m.ScalesOffset+b0:m.ScalesOffset+b1])
		g0 := b0 / NF4GroupBlocks
		copy(out[l.GroupsOffset:l.GroupsOffset+l.GroupsBytes], m.data[m.GroupsOffset+4*g0:])
		copy(out[l.OffsetOffset:], m.data[m.OffsetOffset:m.OffsetOffset+4])
	}
	return out, nil
}
