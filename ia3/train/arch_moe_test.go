package train

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMixtralGradientsOnEveryDevice checks the (IA)³ vector gradients of
// a Mixtral model (k_proj, v_proj and every expert's w2, whose gradient
// reaches the earlier layers through the routing weights too) against
// finite differences of the loss on the CPU and every WebGPU adapter.
func TestMixtralGradientsOnEveryDevice(t *testing.T) {
	c := decoderCase{name: "mixtral 4 experts top 2, window 3", typ: "mixtral", extra: map[string]any{
		"num_local_experts": 4.0, "num_experts_per_tok": 2.0, "sliding_window": 3.0, "num_key_value_heads": 1.0}}
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			r := decoderRun(t, b, c, 17)
			require.Len(t, r.params, len(c.modules(0))+len(c.modules(1)))
			checkFiniteDifferences(t, b, r)
		})
	}
}
