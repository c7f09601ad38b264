package cpu

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// open returns a CPU backend behind the validator, as backend.Open gives it,
// with two workers so the parallel paths run.
func open(t testing.TB) backend.Backend {
	t.Helper()
	b := backend.Checked(New(2))
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// f32s uploads data as an F32 tensor.
func f32s(t testing.TB, b backend.Backend, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.FromFloat32(data, shape...)
	require.NoError(t, err)
	return x
}

// i32s uploads data as an I32 tensor.
func i32s(t testing.TB, b backend.Backend, data []int32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := b.FromInt32(data, shape...)
	require.NoError(t, err)
	return x
}

// values downloads a float tensor after checking its shape.
func values(t testing.TB, b backend.Backend, x backend.Tensor, shape ...int) []float32 {
	t.Helper()
	require.Equal(t, shape, x.Shape())
	v, err := b.ToFloat32(x)
	require.NoError(t, err)
	return v
}

// random returns n values uniform in [-1, 1) from a fixed seed.
func random(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.Float64()*2 - 1)
	}
	return out
}

// must unwraps a (Tensor, error) result.
func must(t testing.TB) func(backend.Tensor, error) backend.Tensor {
	return func(x backend.Tensor, err error) backend.Tensor {
		t.Helper()
		require.NoError(t, err)
		return x
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
