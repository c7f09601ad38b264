package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStorageBytes(t *testing.T) {
	tests := []struct {
		name       string
		f          Format
		rows, cols int
		want       int
		wantErr    string
	}{
		{"q8 one block", Q8_0, 1, 32, 32 + 2, ""},
		{"q8 2x64", Q8_0, 2, 64, 128 + 2*4, ""},
		{"nf4 one block", NF4, 1, 64, 32 + 4 + 4 + 4, ""},
		{"nf4 5 blocks pads to 8", NF4, 5, 64, 160 + 8 + 4 + 4, ""},
		{"nf4 300 blocks two groups", NF4, 300, 64, 9600 + 300 + 8 + 4, ""},
		{"nf4 257 blocks", NF4, 257, 64, 257*32 + 260 + 8 + 4, ""},
		{"q8 cols not multiple", Q8_0, 2, 48, 0, "not a multiple of the block size 32"},
		{"nf4 cols not multiple", NF4, 2, 32, 0, "not a multiple of the block size 64"},
		{"zero rows", Q8_0, 0, 32, 0, "must be positive"},
		{"none", None, 1, 32, 0, "not a quantized format"},
		{"too large", Q8_0, 1 << 20, 1 << 20, 0, "too many elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StorageBytes(tt.f, tt.rows, tt.cols)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNF4Layout(t *testing.T) {
	l, err := NewLayout(NF4, 300, 64)
	require.NoError(t, err)
	assert.Equal(t, Layout{Format: NF4, Rows: 300, Cols: 64, Blocks: 300,
		CodesOffset: 0, CodesBytes: 9600, ScalesOffset: 9600, ScalesBytes: 300,
		GroupsOffset: 9900, GroupsBytes: 8, Groups: 2, OffsetOffset: 9908, Total: 9912}, l)
	q, err := NewLayout(Q8_0, 3, 64)
	require.NoError(t, err)
	assert.Equal(t, Layout{Format: Q8_0, Rows: 3, Cols: 64, Blocks: 6,
		CodesBytes: 192, ScalesOffset: 192, ScalesBytes: 12, Total: 204}, q)
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		err  bool
	}{
		{"", None, false}, {"none", None, false}, {"int8", Q8_0, false}, {"Q8_0", Q8_0, false},
		{"nf4", NF4, false}, {"NF4", NF4, false}, {"int4", None, true}, {"fp4", None, true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestQuantizeQ8KnownBlocks(t *testing.T) {
	// Block 0: amax 127, so d = 1 and the codes are x rounded half away
	// from zero. Block 1: all zeros. Block 2: amax 0.1.
	x := make([]float32, 96)
	copy(x, []float32{127, -127, 2.5, -2.5, 0.5, -0.5, 1.49, -1.51, 126.5, -126.5, 3.5})
	x[64], x[65], x[66] = 0.1, -0.05, 0.025
	got, err := Quantize(Q8_0, x, 1, 96)
	require.NoError(t, err)
	require.Len(t, got, 96+6)
	wantCodes := []int8{127, -127, 3, -3, 1, -1, 1, -2, 127, -127, 4}
	for j, w := range wantCodes {
		assert.Equal(t, w, int8(got[j]), "code %d", j)
	}
	for j := len(wantCodes); j < 64; j++ {
		assert.Zero(t, got[j], "code %d", j)
	}
	// 0.1/127 = 0.000787..., 1/d = 1270: codes 127, -64 (−63.5 away from
	// zero), 32 (31.75).
	assert.Equal(t, []int8{127, -64, 32}, []int8{int8(got[64]), int8(got[65]), int8(got[66])})
	scales := got[96:]
	assert.Equal(t, uint16(0x3c00), binary.LittleEndian.Uint16(scales[0:]), "scale 1.0")
	assert.Equal(t, uint16(0), binary.LittleEndian.Uint16(scales[2:]), "scale 0")
	d := float32(0.1) / 127
	assert.Equal(t, Float32ToHalf(d), binary.LittleEndian.Uint16(scales[4:]))

	deq, err := Dequantize(Q8_0, got, 1, 96)
	require.NoError(t, err)
	assert.Equal(t, []float32{127, -127, 3, -3, 1, -1, 1, -2, 127, -127, 4}, deq[:11])
	hd := HalfToFloat32(Float32ToHalf(d))
	assert.Equal(t, []float32{127 * hd, -64 * hd, 32 * hd}, deq[64:67])
	assert.InDelta(t, 0.1, deq[64], 1e-4)
}

func TestQuantizeNF4NibbleOrder(t *testing.T) {
	x := make([]float32, 64)
	// Pairs (high nibble, low nibble) per byte.
	copy(x, []float32{1, -1, 0, 0.5626170039176941, -0.39491748809814453, 0.7229568362236023, 0.04, 0.03})
	got, err := Quantize(NF4, x, 1, 64)
	require.NoError(t, err)
	require.Len(t, got, 44)
	// 0.04 lies above the midpoint of 0 and 0.0796 (code 8), 0.03 below (7).
	assert.Equal(t, []byte{0xf0, 0x7d, 0x3e, 0x87}, got[:4])
	for i := 4; i < 32; i++ {
		assert.Equal(t, byte(0x77), got[i], "byte %d: zeros are code 7", i)
	}
	// One block: the offset is its absmax, the group scale 0 and the
	// absmax code that of 0.0, so the absmax comes back exactly.
	zero := byte(nearest(dynamic8()[:], 0))
	assert.Equal(t, byte(127), zero)
	assert.Equal(t, []byte{zero, 0, 0, 0}, got[32:36])
	assert.Equal(t, float32(0), le32(got[36:]))
	assert.Equal(t, float32(1), le32(got[40:]))
	deq, err := Dequantize(NF4, got, 1, 64)
	require.NoError(t, err)
	nf := NF4Table()
	assert.Equal(t, []float32{1, -1, 0, nf[13], nf[3], nf[14], nf[8], 0}, deq[:8])
}

func TestQuantizeNF4DoubleQuant(t *testing.T) {
	// Two blocks of absmax 1 and 3: offset 2, group scale 1, and the
	// normalised absmax values −1 and 1 take the table's ends.
	x := make([]float32, 128)
	x[0], x[64] = -1, 3
	got, err := Quantize(NF4, x, 2, 64)
	require.NoError(t, err)
	l, err := NewLayout(NF4, 2, 64)
	require.NoError(t, err)
	require.Len(t, got, l.Total)
	assert.Equal(t, []byte{0, 255, 0, 0}, got[l.ScalesOffset:l.ScalesOffset+4])
	assert.Equal(t, float32(1), le32(got[l.GroupsOffset:]))
	assert.Equal(t, float32(2), le32(got[l.OffsetOffset:]))
	m, err := NewMatrix(NF4, got, 2, 64)
	require.NoError(t, err)
	d8 := Dynamic8Table()
	assert.Equal(t, -(float32(d8[0]*1) + 2), m.At(0, 0), "A_0 = D8[0]·1 + 2")
	assert.Equal(t, float32(3), m.At(1, 0), "A_1 = D8[255]·1 + 2")
	assert.Equal(t, float32(0), m.At(0, 1))
}

func TestQuantizeNF4Groups(t *testing.T) {
	// 600 blocks: three groups, the last one short (88 blocks).
	rng := rand.New(rand.NewPCG(1, 2))
	rows, cols := 300, 128
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * float32(1+i%7)
	}
	got, err := Quantize(NF4, x, rows, cols)
	require.NoError(t, err)
	l, err := NewLayout(NF4, rows, cols)
	require.NoError(t, err)
	assert.Equal(t, 3, l.Groups)
	// Recompute the offset and group scales from the block absmax values.
	absmax := make([]float32, l.Blocks)
	var sum float64
	for b := range absmax {
		for _, v := range x[b*64 : (b+1)*64] {
			absmax[b] = max(absmax[b], float32(math.Abs(float64(v))))
		}
		sum += float64(absmax[b])
	}
	offset := float32(sum / float64(l.Blocks))
	assert.Equal(t, offset, le32(got[l.OffsetOffset:]))
	for g := range 3 {
		var s float32
		for _, a := range absmax[g*256 : min(600, (g+1)*256)] {
			s = max(s, float32(math.Abs(float64(a-offset))))
		}
		assert.Equal(t, s, le32(got[l.GroupsOffset+4*g:]), "group %d", g)
	}
	deq, err := Dequantize(NF4, got, rows, cols)
	require.NoError(t, err)
	for i, v := range x {
		a := absmax[i/64]
		// Half the widest NF4 gap (0.152) plus the double-quantized absmax
		// error (half a dynamic-map step of the group scale, ≤ 1 %).
		require.InDelta(t, v, deq[i], float64(0.16*a+0.01*a), "element %d", i)
	}
	again, err := Quantize(NF4, x, rows, cols)
	require.NoError(t, err)
	assert.Equal(t, got, again, "quantization is deterministic")
}

func TestQuantizeQ8Error(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows, cols := 7, 96
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	got, err := Quantize(Q8_0, x, rows, cols)
	require.NoError(t, err)
	deq, err := Dequantize(Q8_0, got, rows, cols)
	require.NoError(t, err)
	for b := range rows * cols / 32 {
		var amax float32
		for _, v := range x[b*32 : (b+1)*32] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		for i := b * 32; i < (b+1)*32; i++ {
			// Half a step (amax/254) plus float16's relative error on the
			// scale times the largest code.
			require.InDelta(t, x[i], deq[i], float64(amax/254+amax*0.0005), "element %d", i)
		}
	}
}

func TestMatrixRowRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rows, cols := 3, 192
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, f := range []Format{Q8_0, NF4} {
		data, err := Quantize(f, x, rows, cols)
		require.NoError(t, err)
		full, err := Dequantize(f, data, rows, cols)
		require.NoError(t, err)
		m, err := NewMatrix(f, data, rows, cols)
		require.NoError(t, err)
		for _, r := range []struct{ row, c0, n int }{{0, 0, 192}, {1, 1, 5}, {2, 31, 40}, {1, 63, 66}, {2, 191, 1}, {0, 100, 92}} {
			dst := make([]float32, r.n)
			m.Row(dst, r.row, r.c0)
			assert.Equal(t, full[r.row*cols+r.c0:r.row*cols+r.c0+r.n], dst, "%v row %d cols %d+%d", f, r.row, r.c0, r.n)
			strided := make([]float32, 3*r.n)
			m.RowStrided(strided, 3, r.row, r.c0, r.n)
			for k := range r.n {
				require.Equal(t, dst[k], strided[3*k], "%v strided element %d", f, k)
				require.Zero(t, strided[3*k+1])
			}
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	_, err := Quantize(Q8_0, make([]float32, 31), 1, 32)
	assert.ErrorContains(t, err, "31 values, want 32")
	_, err = NewMatrix(NF4, make([]byte, 43), 1, 64)
	assert.ErrorContains(t, err, "43 bytes, want 44")
	_, err = Dequantize(None, nil, 1, 32)
	assert.ErrorContains(t, err, "not a quantized format")
}

func TestNearestTiesLow(t *testing.T) {
	tbl := []float32{-1, 0, 1}
	tests := []struct {
		x    float32
		want int
	}{{-2, 0}, {-0.5, 0}, {-0.49, 1}, {0.5, 1}, {0.51, 2}, {7, 2}, {0, 1}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, nearest(tbl, tt.x), "x %v", tt.x)
	}
}

func TestHalf(t *testing.T) {
	tests := []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {6.1035156e-05, 0x0400},
		{5.9604645e-08, 0x0001}, {2.9802322e-08, 0x0000}, {1.0009766, 0x3c01}, {1.00048828125, 0x3c00},
		{1.00146484375, 0x3c02}, {float32(math.Inf(-1)), 0xfc00},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.h, Float32ToHalf(tt.f), "%v", tt.f)
	}
	for h := range 1 << 16 {
		f := HalfToFloat32(uint16(h))
		if f != f {
			continue
		}
		require.Equal(t, uint16(h), Float32ToHalf(f), "bits %#04x", h)
	}
}

func TestNF4Table(t *testing.T) {
	tbl := NF4Table()
	assert.Equal(t, float32(-1), tbl[0])
	assert.Equal(t, float32(0), tbl[7])
	assert.Equal(t, float32(1), tbl[15])
	assert.Equal(t, float32(0.07958029955625534), tbl[8])
	for i := 1; i < 16; i++ {
		assert.Less(t, tbl[i-1], tbl[i])
	}
}

func TestRowGranularity(t *testing.T) {
	tests := []struct {
		f          Format
		cols, want int
	}{
		{Q8_0, 32, 1}, {Q8_0, 8192, 1},
		{NF4, 64, 256}, {NF4, 192, 256}, {NF4, 320, 256}, {NF4, 4096, 4}, {NF4, 8192, 2}, {NF4, 16384, 1}, {NF4, 3 * 16384, 1},
		{None, 64, 0}, {NF4, 0, 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, RowGranularity(tt.f, tt.cols), "%v cols %d", tt.f, tt.cols)
	}
}

// TestSliceRows cuts quantized matrices at every valid boundary: each slice
// dequantizes bit for bit as the same rows of the whole, short last groups
// and padded absmax codes included.
func TestSliceRows(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	tests := []struct {
		f          Format
		rows, cols int
		cuts       []int // slice boundaries, from 0 to rows
	}{
		{Q8_0, 7, 64, []int{0, 1, 4, 7}},
		{Q8_0, 5, 32, []int{0, 2, 3, 5}},
		{NF4, 700, 64, []int{0, 256, 512, 700}},  // last slice: 188 blocks, one short group
		{NF4, 600, 192, []int{0, 256, 600}},      // 3 groups a slice, last 258 blocks
		{NF4, 9, 4096, []int{0, 4, 8, 9}},        // last slice one row: 64 blocks
		{NF4, 260, 128, []int{0, 128, 256, 260}}, // g = 128 rows, last slice 8 blocks
		{NF4, 3, 2 * 16384, []int{0, 1, 2, 3}},   // a row holds two whole groups
		{NF4, 513, 64, []int{0, 512, 513}},       // a 1-block last slice (absmax codes padded)
		{NF4, 5, 64, []int{0, 5}},                // the whole, shorter than one group
	}
	for _, tt := range tests {
		x := make([]float32, tt.rows*tt.cols)
		for i := range x {
			x[i] = float32(r.NormFloat64()) * float32(1+i%7)
		}
		data, err := Quantize(tt.f, x, tt.rows, tt.cols)
		require.NoError(t, err)
		whole, err := Dequantize(tt.f, data, tt.rows, tt.cols)
		require.NoError(t, err)
		for i := 0; i+1 < len(tt.cuts); i++ {
			r0, r1 := tt.cuts[i], tt.cuts[i+1]
			part, err := SliceRows(tt.f, data, tt.rows, tt.cols, r0, r1)
			require.NoError(t, err, "%v [%d, %d] rows [%d, %d)", tt.f, tt.rows, tt.cols, r0, r1)
			got, err := Dequantize(tt.f, part, r1-r0, tt.cols)
			require.NoError(t, err)
			assert.Equal(t, bitsOf(whole[r0*tt.cols:r1*tt.cols]), bitsOf(got), "%v [%d, %d] rows [%d, %d)", tt.f, tt.rows, tt.cols, r0, r1)
		}
	}
}

func TestSliceRowsRefusals(t *testing.T) {
	data, err := Quantize(NF4, make([]float32, 600*64), 600, 64)
	require.NoError(t, err)
	for _, c := range []struct {
		r0, r1 int
		want   string
	}{
		{0, 100, "multiple of 256 rows"},
		{100, 600, "multiple of 256 rows"},
		{256, 256, "non-empty range"},
		{0, 601, "non-empty range"},
		{-256, 0, "non-empty range"},
	} {
		_, err := SliceRows(NF4, data, 600, 64, c.r0, c.r1)
		assert.ErrorContains(t, err, c.want, "rows [%d, %d)", c.r0, c.r1)
	}
	_, err = SliceRows(NF4, data[:10], 600, 64, 0, 256)
	assert.ErrorContains(t, err, "bytes")
	_, err = SliceRows(None, data, 600, 64, 0, 256)
	assert.ErrorContains(t, err, "not a quantized format")
}

func bitsOf(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}
