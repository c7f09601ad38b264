//go:build cgo && !nowebgpu

package main

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model/modeltest"
)

// TestForwardQuantizedOnWebGPU runs `ia3 forward --quantize` with an
// adapter on the llama fixture on a WebGPU adapter and on the CPU: both
// quantize the same weights on the host and dequantise them alike, so the
// logits agree to float32 summation order.
func TestForwardQuantizedOnWebGPU(t *testing.T) {
	spec := webgputest.Open(t).Info().Spec
	c := fixture(t, "llama")
	for _, q := range []string{"int8", "nf4"} {
		t.Run(q, func(t *testing.T) {
			logits := map[string][]float32{}
			for _, dev := range []string{"cpu", spec} {
				out := filepath.Join(t.TempDir(), "logits.safetensors")
				r := run(t, "forward", "--model", filepath.Join(c.Dir, "base"), "--device", dev, "--quantize", q,
					"--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", out,
					"--adapter", filepath.Join(c.Dir, "adapters", "a"))
				require.Equal(t, 0, r.code, "%s: %s", dev, r.stderr)
				got, err := modeltest.ReadTensors(out)
				require.NoError(t, err)
				logits[dev] = got["logits"].Data
			}
			want, got := logits["cpu"], logits[spec]
			require.Len(t, got, len(want))
			var d, s float64
			for i := range want {
				d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
				s = math.Max(s, math.Abs(float64(want[i])))
			}
			t.Logf("--quantize %s: max |%s logits − CPU logits| = %.2g (max |logits| %.2f)", q, spec, d, s)
			assert.LessOrEqual(t, d, 1e-4*math.Max(1, s), "--quantize %s: %s against the CPU", q, spec)
		})
	}
}
