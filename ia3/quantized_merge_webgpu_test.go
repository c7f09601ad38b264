package ia3

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/quant"
)

// TestMergeOnQuantizedBaseOnWebGPU merges adapter a into a quantized base
// on a WebGPU adapter and on the CPU: the GPU dequantises and scales the
// weights exactly as the CPU does (a float32 product, rounded once), so
// the requantized weights, the merged model's logits up to float32 order
// and the reported requantization error agree; unmerging requantizes
// again within the same bound.
func TestMergeOnQuantizedBaseOnWebGPU(t *testing.T) {
	gpu := webgputest.Open(t)
	host := cpu(t)
	ctx := context.Background()
	for _, name := range []string{"bert", "gpt2", "llama", "t5"} {
		c := modeltest.NamedCase(t, name)
		in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
		require.NoError(t, err)
		for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
			t.Run(name+"/"+f.String(), func(t *testing.T) {
				merge := func(b backend.Backend) (*Model, *model.Model) {
					base, err := model.LoadWith(ctx, filepath.Join(c.Dir, "base"), b, model.LoadOptions{Quantize: f})
					require.NoError(t, err)
					t.Cleanup(base.Free)
					m, err := FromPretrained(base, filepath.Join(c.Dir, "adapters", "a"), "a", false)
					require.NoError(t, err)
					require.NoError(t, m.Merge(true, "a"))
					return m, base
				}
				gm, gbase := merge(gpu)
				cm, cbase := merge(host)
				assert.Equal(t, cm.RequantizationError(), gm.RequantizationError(), "requantization error")
				quantized := 0
				for i, p := range gbase.Params() {
					if !p.T.DType().IsQuantized() {
						continue
					}
					quantized++
					g, err := gpu.ToFloat32(p.T)
					require.NoError(t, err)
					h, err := host.ToFloat32(cbase.Params()[i].T)
					require.NoError(t, err)
					require.Equal(t, f32bits(h), f32bits(g), "%s: merged and requantized", p.Name)
				}
				assert.Positive(t, quantized)
				got := forwardLogits(t, gpu, gbase, in)
				want := forwardLogits(t, host, cbase, in)
				var d, s float64
				for i := range want {
					d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
					s = math.Max(s, math.Abs(float64(want[i])))
				}
				assert.LessOrEqual(t, d, 1e-4*math.Max(1, s), "merged logits, WebGPU vs CPU")

				// Unmerge divides, which WGSL rounds to 2.5 ULP rather than
				// exactly, so a code may differ: only the bound is shared.
				require.NoError(t, gm.Unmerge())
				require.NoError(t, cm.Unmerge())
				ge := gm.RequantizationError()
				assert.Equal(t, cm.RequantizationError().Layers, ge.Layers, "layers requantized by unmerge")
				assert.LessOrEqual(t, ge.MaxRel, requantBound[f], "unmerge requantization error")
			})
		}
	}
}

// f32bits returns the bit patterns of v, so that comparisons are exact.
func f32bits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}
