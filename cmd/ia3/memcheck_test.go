package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/quant"
)

// TestCheckRunFitsDiscreteGPU checks the fallback where WebGPU reports no
// memory: the logits must fit the adapter's largest buffer.
func TestCheckRunFitsDiscreteGPU(t *testing.T) {
	cfg, err := model.ParseConfig([]byte(`{"model_type": "gpt2"}`))
	require.NoError(t, err)
	gpu := backend.DeviceInfo{Spec: "gpu:0", Type: "DiscreteGPU", API: "Vulkan",
		Limits: map[string]uint64{"maxStorageBufferBindingSize": 2 << 30, "maxBufferSize": 4 << 30}}
	require.NoError(t, checkRunFits(gpu, cfg, 8, 512, true, quant.None), "GPT-2 small 8×512: logits of 785 MiB")
	err = checkRunFits(gpu, cfg, 64, 512, false, quant.None)
	require.EqualError(t, err, "a forward pass of 64 × 512 tokens needs at least 8.1 GiB (474.2 MiB of float32 weights "+
		"for 1.24e+08 parameters, 7.6 GiB of activations); its logits alone (6.1 GiB) exceed gpu:0's largest buffer of 2.0 GiB: lower --batch or --seq")
	require.NoError(t, checkRunFits(backend.DeviceInfo{Spec: "gpu:0", Type: "DiscreteGPU"}, cfg, 64, 512, false, quant.None),
		"no limits reported: nothing to check against")
}

// TestFormatBytes checks the binary units.
func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    float64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {3 << 30, "3.0 GiB"}, {1e30, "867361737988.4 EiB"}} {
		assert.Equal(t, tc.want, formatBytes(tc.n))
	}
}
