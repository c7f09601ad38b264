//go:build cgo && !nowebgpu

package webgpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestGather gathers rows of every table dtype at width 3 (scalar entry)
// and 4 (the vec4 entry for F32).
func TestGather(t *testing.T) {
	k := newOpKit(t)
	const v = 5
	ids := []int32{4, 0, 0, 2, 4}
	for _, d := range []int{3, 4} {
		// Table values are multiples of 1/4 in [−8, 8): exact in F16 and BF16.
		table := make([]float32, v*d)
		for i := range table {
			table[i] = float32((i*37)%64-32) / 4
		}
		want := make([]float32, 0, len(ids)*d)
		for _, id := range ids {
			want = append(want, table[int(id)*d:int(id+1)*d]...)
		}
		for _, dt := range []backend.DType{backend.F32, backend.F16, backend.BF16} {
			t.Run(fmt.Sprintf("%s/D=%d", dt, d), func(t *testing.T) {
				tab, err := k.b.FromBytes(dt, encodeFloats(t, dt, table), v, d)
				require.NoError(t, err)
				y, err := k.b.Gather(tab, k.i32(ids, len(ids)))
				require.NoError(t, err)
				assert.Equal(t, []int{len(ids), d}, y.Shape())
				assert.Equal(t, backend.F32, y.DType())
				assert.Equal(t, want, k.get(y))
			})
		}
	}
}

func TestGatherOddWidthF16(t *testing.T) {
	k := newOpKit(t)
	// D = 7 with F16: odd rows start in the middle of a packed word.
	const v, d = 4, 7
	table := make([]float32, v*d)
	for i := range table {
		table[i] = float32(i) - 10
	}
	tab, err := k.b.FromBytes(backend.F16, encodeFloats(t, backend.F16, table), v, d)
	require.NoError(t, err)
	y, err := k.b.Gather(tab, k.i32([]int32{1, 3, 2}, 3))
	require.NoError(t, err)
	want := append(append(append([]float32{}, table[7:14]...), table[21:28]...), table[14:21]...)
	assert.Equal(t, want, k.get(y))
}

// TestGatherOutOfRangeIsReported runs bad ids through the scalar (D = 2)
// and vec4 (D = 4) entries.
func TestGatherOutOfRangeIsReported(t *testing.T) {
	k := newOpKit(t)
	for _, d := range []int{2, 4} {
		t.Run(fmt.Sprintf("D=%d", d), func(t *testing.T) {
			tab := k.f32(seq(2*d, 1, 1), 2, d)
			y, err := k.b.Gather(tab, k.i32([]int32{1, 2, -1, 0, 1 << 30}, 5))
			require.NoError(t, err, "the ids are checked on the device")
			_, err = k.b.ToFloat32(y)
			require.Error(t, err, "the next download reports the bad id")
			assert.Contains(t, err.Error(), "Gather: an id is outside the table's rows")
			// Reported once; the bad rows read nothing.
			require.NoError(t, k.b.Sync())
			row0, row1, zero := seq(d, 1, 1), seq(d, float32(d+1), 1), make([]float32, d)
			want := slices.Concat(row1, zero, zero, row0, zero)
			assert.Equal(t, want, k.get(y))
		})
	}
}

func TestScatterAddRows(t *testing.T) {
	k := newOpKit(t)
	for _, tc := range []struct {
		name    string
		rows, d int
		ids     []int32
	}{
		{"hand", 3, 2, []int32{2, 0, 2}},
		{"one row per block", 1000, 3, []int32{999, 0, 5, 5, 999, 3}},
		{"several rows per block", 300, 700, []int32{299, 1, 1, 150, 42, 299, 0}},
		{"wide rows", 2, 70000, []int32{1, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.ids)
			src := randVals(uint64(tc.rows), n*tc.d, 0, 1)
			y, err := k.b.ScatterAddRows(tc.rows, k.i32(tc.ids, n), k.f32(src, n, tc.d))
			require.NoError(t, err)
			assert.Equal(t, []int{tc.rows, tc.d}, y.Shape())
			want := make([]float64, tc.rows*tc.d)
			for i, id := range tc.ids {
				if id < 0 || int(id) >= tc.rows {
					continue
				}
				for c := 0; c < tc.d; c++ {
					want[int(id)*tc.d+c] += float64(src[i*tc.d+c])
				}
			}
			assertClose(t, want, k.get(y), 1e-6)
		})
	}

	// Hand values: rows 0 and 2 receive, row 1 stays zero.
	y, err := k.b.ScatterAddRows(3, k.i32([]int32{2, 0, 2}, 3), k.f32([]float32{1, 2, 3, 4, 5, 6}, 3, 2))
	require.NoError(t, err)
	assert.Equal(t, []float32{3, 4, 0, 0, 6, 8}, k.get(y))
}

func TestScatterAddRowsOutOfRangeIsReported(t *testing.T) {
	k := newOpKit(t)
	src := k.f32([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 4, 2)
	y, err := k.b.ScatterAddRows(3, k.i32([]int32{-1, 2, 3, 2}, 4), src)
	require.NoError(t, err)
	require.ErrorContains(t, k.b.Sync(), "ScatterAddRows: an id is outside [0, rows)")
	// The bad ids added nowhere; the others did.
	assert.Equal(t, []float32{0, 0, 0, 0, 10, 12}, k.get(y))
}

// encodeFloats returns values as little-endian dt storage. F16 and BF16
// need values they represent exactly (normal numbers or zero).
func encodeFloats(t *testing.T, dt backend.DType, values []float32) []byte {
	t.Helper()
	out := make([]byte, 0, len(values)*dt.Size())
	for _, v := range values {
		bits := math.Float32bits(v)
		switch dt {
		case backend.F32:
			out = binary.LittleEndian.AppendUint32(out, bits)
		case backend.BF16:
			require.Zero(t, bits&0xffff, "%v is not exact in BF16", v)
			out = binary.LittleEndian.AppendUint16(out, uint16(bits>>16))
		case backend.F16:
			var h uint16
			if v != 0 {
				exp := int(bits>>23&0xff) - 127 + 15
				require.True(t, exp > 0 && exp < 31 && bits&0x1fff == 0, "%v is not exact in F16", v)
				h = uint16(bits>>16&0x8000) | uint16(exp)<<10 | uint16(bits>>13&0x3ff)
			}
			out = binary.LittleEndian.AppendUint16(out, h)
		}
	}
	return out
}

func BenchmarkScatterAddRows(b *testing.B) {
	k := newOpKit(b)
	const rows, n, d = 32000, 512, 768
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i * 61 % rows)
	}
	it, src := k.i32(ids, n), k.f32(randVals(1, n*d, 0, 1), n, d)
	for b.Loop() {
		y, err := k.b.ScatterAddRows(rows, it, src)
		require.NoError(b, err)
		require.NoError(b, k.b.Sync())
		k.b.Free(y)
	}
}
