//go:build !cgo || nowebgpu

package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDevicesSaysWebGPUNotBuilt checks that a pure-Go binary lists the GPU
// with the reason it cannot compute, and still lists the CPU.
func TestDevicesSaysWebGPUNotBuilt(t *testing.T) {
	const why = "WebGPU not built: this binary was built without cgo (CGO_ENABLED=0) or with -tags nowebgpu"
	r := run(t, "devices")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no: "+why)

	r = run(t, "devices", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var ds []deviceJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ds))
	require.Len(t, ds, 2)
	assert.Equal(t, deviceJSON{Spec: "gpu", Name: "WebGPU", API: "WebGPU", Type: "none", Reason: why}, ds[0])
	assert.Equal(t, "cpu", ds[1].Spec)
	assert.True(t, ds[1].Compute)

	r = run(t, "train", "--steps", "1", "--device", "gpu", "--out", t.TempDir())
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, why)
}
