package nn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// BenchmarkLinearIA3Step times one forward and backward pass of a frozen
// GPT-2-sized projection (768 → 768, 256 rows) with a trainable (IA)³ out
// vector, the per-layer cost of training key/value vectors.
func BenchmarkLinearIA3Step(b *testing.B) {
	be, err := backend.Open(context.Background(), "cpu")
	require.NoError(b, err)
	defer be.Close()
	const rows, n = 256, 768
	rng := newRNG()
	mk := func(data []float32, shape ...int) backend.Tensor {
		t, err := be.FromFloat32(data, shape...)
		require.NoError(b, err)
		return t
	}
	w := &Param{Name: "w", T: mk(uniform(rng, n*n, -0.05, 0.05), n, n)}
	s := &Param{Name: "s", T: mk(uniform(rng, n, 0.9, 1.1), n), Trainable: true}
	x := mk(uniform(rng, rows*n, -1, 1), rows, n)
	target := mk(make([]float32, rows*n), rows, n)
	l := &Linear{Weight: w, Adapter: &testAdapter{out: s}}
	b.ResetTimer()
	for range b.N {
		g := NewGraph(be, true)
		loss := g.MSE(g.Linear(g.Act(backend.GELUTanh, g.Constant(x)), l), g.Constant(target))
		if err := g.Backward(loss); err != nil {
			b.Fatal(err)
		}
		if err := be.Sync(); err != nil {
			b.Fatal(err)
		}
		g.Release()
	}
}
