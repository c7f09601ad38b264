package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/all"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
)

// device is one backend a test runs on.
type device struct {
	name string
	open func(t *testing.T) backend.Backend
}

// devices lists the CPU backend and the first WebGPU adapter (skipped
// without one unless IA3_REQUIRE_GPU=1).
func devices() []device {
	return []device{
		{"cpu", openCPU},
		{"webgpu", func(t *testing.T) backend.Backend { return webgputest.Open(t) }},
	}
}

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
