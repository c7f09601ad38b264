package cpu

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

func TestFromBytesRoundTrips(t *testing.T) {
	b := open(t)
	le32 := func(vs ...uint32) []byte {
		out := make([]byte, 0, 4*len(vs))
		for _, v := range vs {
			out = binary.LittleEndian.AppendUint32(out, v)
		}
		return out
	}
	le16 := func(vs ...uint16) []byte {
		out := make([]byte, 0, 2*len(vs))
		for _, v := range vs {
			out = binary.LittleEndian.AppendUint16(out, v)
		}
		return out
	}
	tests := []struct {
		name  string
		dtype backend.DType
		data  []byte
		want  []float32
	}{
		{"f32", backend.F32, le32(math.Float32bits(1.5), math.Float32bits(-2)), []float32{1.5, -2}},
		// 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14·0.5 (subnormal), 0.333 rounded.
		{"f16", backend.F16, le16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x0200, 0x3555), []float32{1, -2, 65504, 0x1p-24, 0x1p-15, 0.33325195}},
		{"bf16", backend.BF16, le16(0x3f80, 0xc040, 0x3eab), []float32{1, -3, 0.333984375}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := b.FromBytes(tc.dtype, tc.data, len(tc.want))
			require.NoError(t, err)
			assert.Equal(t, tc.dtype, x.DType())
			assert.Equal(t, tc.want, values(t, b, x, len(tc.want)))
			c := must(t)(b.Copy(x))
			assert.Equal(t, backend.F32, c.DType())
			assert.Equal(t, tc.want, values(t, b, c, len(tc.want)))
		})
	}
	ids, err := b.FromBytes(backend.I32, le32(7, math.MaxUint32), 2)
	require.NoError(t, err)
	got, err := b.ToInt32(ids)
	require.NoError(t, err)
	assert.Equal(t, []int32{7, -1}, got)
}

func TestHalfSpecialValues(t *testing.T) {
	assert.True(t, math.IsInf(float64(f16ToF32(0x7c00)), 1))
	assert.True(t, math.IsInf(float64(f16ToF32(0xfc00)), -1))
	assert.True(t, math.IsNaN(float64(f16ToF32(0x7e00))))
	assert.Equal(t, uint32(0x80000000), math.Float32bits(f16ToF32(0x8000)), "negative zero")
	assert.True(t, math.IsInf(float64(bf16ToF32(0x7f80)), 1))
	// Every finite F16 value widens to the value its bits denote.
	for h := range uint32(0x7c00) {
		exp, mant := int(h>>10), float64(h&0x3ff)
		want := math.Ldexp(mant, -24)
		if exp > 0 {
			want = math.Ldexp(1024+mant, exp-25)
		}
		require.Equal(t, float32(want), f16ToF32(uint16(h)), "bits %#04x", h)
	}
}

func TestMemoryOps(t *testing.T) {
	b := open(t)
	z := must(t)(b.Zeros(2, 2))
	assert.Equal(t, []float32{0, 0, 0, 0}, values(t, b, z, 2, 2))

	data := []float32{1, 2, 3, 4, 5, 6}
	x := f32s(t, b, data, 2, 3)
	data[0] = 99 // the tensor owns a copy
	v := must(t)(b.View(x, 3, 2))
	assert.Equal(t, []float32{1, 2, 3, 4, 5, 6}, values(t, b, v, 3, 2))
	assert.Equal(t, 6, v.Len())

	// A view shares storage: NarrowAssign through it shows in the owner.
	require.NoError(t, b.NarrowAssign(v, 0, 1, f32s(t, b, []float32{-3, -4}, 1, 2)))
	assert.Equal(t, []float32{1, 2, -3, -4, 5, 6}, values(t, b, x, 2, 3))

	b.Free(v) // freeing a view is a no-op
	assert.Equal(t, []float32{1, 2, -3, -4, 5, 6}, values(t, b, x, 2, 3))
	b.Free(x)
	b.Free(x) // twice is a no-op
	_, err := b.ToFloat32(x)
	assert.ErrorContains(t, err, "to_float32: t [2 3] was freed")
	_, err = b.Add(v, v)
	assert.ErrorContains(t, err, "add: a [3 2] was freed")
}

func TestForeignAndMisusedTensors(t *testing.T) {
	b, other := open(t), open(t)
	x := f32s(t, other, []float32{1}, 1)
	_, err := b.Affine(x, 1, 0)
	assert.ErrorContains(t, err, "affine: x [1] belongs to another cpu backend")

	_, err = b.ToInt32(f32s(t, b, []float32{1}, 1))
	assert.ErrorContains(t, err, "to_int32: t [1] has dtype F32, want I32")

	raw := New(1)
	_, err = raw.Affine(fakeTensor{}, 1, 0)
	assert.ErrorContains(t, err, "affine: x is a cpu.fakeTensor, not a tensor of the cpu backend")

	y := f32s(t, b, []float32{1}, 1)
	require.NoError(t, b.Close())
	_, err = b.Affine(y, 1, 0)
	assert.ErrorContains(t, err, "cpu backend is closed")
	assert.Error(t, b.Sync())
}

// fakeTensor is a tensor of no backend.
type fakeTensor struct{}

func (fakeTensor) Shape() []int         { return []int{1} }
func (fakeTensor) DType() backend.DType { return backend.F32 }
func (fakeTensor) Len() int             { return 1 }

func TestProviderAndInfo(t *testing.T) {
	ds := backend.Devices(context.Background())
	var cpu *backend.DeviceInfo
	for i := range ds {
		if ds[i].Spec == "cpu" {
			cpu = &ds[i]
		}
	}
	require.NotNil(t, cpu, "the cpu provider registers from init")
	assert.Equal(t, "Go", cpu.API)
	assert.Equal(t, "Host", cpu.Type)
	assert.True(t, cpu.Compute)
	assert.NotEmpty(t, cpu.Name)
	assert.Positive(t, cpu.Parallelism)

	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	assert.Equal(t, "cpu", b.Info().Spec)
	_, err = b.MatMul(nil, nil, backend.MatMulOptions{})
	assert.ErrorContains(t, err, "matmul: a is nil", "Open wraps the backend with Checked")
	require.NoError(t, b.Close())

	_, err = provider{}.Open(context.Background(), "cpu:1")
	assert.ErrorContains(t, err, `unknown device "cpu:1"`)
}

func TestCPUModel(t *testing.T) {
	path := t.TempDir() + "/cpuinfo"
	require.NoError(t, writeFile(path, "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold\n\nprocessor\t: 1\nmodel name\t: other\n"))
	name, vendor := cpuModel(path)
	assert.Equal(t, "Intel(R) Xeon(R) Gold", name)
	assert.Equal(t, "GenuineIntel", vendor)
	name, vendor = cpuModel(path + ".missing")
	assert.Empty(t, name)
	assert.Empty(t, vendor)
}
