package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/all"
	"github.com/ia3/ia3/backend/webgpu"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// device is one backend a test runs on.
type device struct {
	name string
	open func(t *testing.T) backend.Backend
}

// devices lists the CPU backend and every WebGPU adapter that can run
// compute. Without an adapter the WebGPU entry skips (fails under
// IA3_REQUIRE_GPU=1) through webgputest.
func devices() []device {
	out := []device{{"cpu", openCPU}}
	adapters, err := gpuAdapters()
	if err != nil || len(adapters) == 0 {
		return append(out, device{"webgpu", func(t *testing.T) backend.Backend { return webgputest.Open(t) }})
	}
	for _, d := range adapters {
		out = append(out, device{d.Spec + " " + d.API, func(t *testing.T) backend.Backend {
			b, err := webgpu.Open(context.Background(), d.Spec)
			require.NoError(t, err, "open %s (%s, %s)", d.Spec, d.Name, d.API)
			t.Cleanup(func() { _ = b.Close() })
			return b
		}})
	}
	return out
}

// gpuAdapters probes the WebGPU adapters that can run compute, once per
// test binary (probing opens a device on each).
var gpuAdapters = sync.OnceValues(func() ([]backend.DeviceInfo, error) {
	all, err := webgpu.Provider{}.Devices(context.Background())
	var out []backend.DeviceInfo
	for _, d := range all {
		if d.Compute {
			out = append(out, d)
		}
	}
	return out, err
})

// openCPU opens the validated CPU backend, closed when the test ends.
func openCPU(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// trainSpec is meta.json's "train" object.
type trainSpec struct {
	Optimizer   string    `json:"optimizer"`
	LR          float64   `json:"lr"`
	Betas       []float64 `json:"betas"`
	Eps         float64   `json:"eps"`
	WeightDecay float64   `json:"weight_decay"`
	Schedule    string    `json:"lr_schedule"`
	GradClip    *float64  `json:"grad_clip"`
	Steps       int       `json:"steps"`
	Losses      []float64 `json:"losses"`
	Trainable   []string  `json:"trainable"`
}

// readTrainSpec reads a case's meta.json train spec.
func readTrainSpec(t *testing.T, dir string) trainSpec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	require.NoError(t, err)
	var meta struct {
		Train trainSpec `json:"train"`
	}
	require.NoError(t, json.Unmarshal(data, &meta))
	return meta.Train
}

// maxAbs returns max |v|.
func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

// maxDiff returns max |a − b| over equal-length slices.
func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}
