package conformance

import (
	"context"
	"os"
	"testing"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/all" // registers the cpu and webgpu providers
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpsOnEveryDevice runs the whole op suite on every device that can
// compute, one subtest per device × op × shape. Without a WebGPU adapter the
// GPU part is skipped with one log line, unless IA3_REQUIRE_GPU=1 (as CI
// sets it) makes that a failure.
func TestOpsOnEveryDevice(t *testing.T) {
	ctx := context.Background()
	var usable []backend.DeviceInfo
	gpu := false
	for _, d := range backend.Devices(ctx) {
		if !d.Compute {
			t.Logf("%s (%s, %s): no compute: %s", d.Spec, d.Name, d.API, d.Reason)
			continue
		}
		t.Logf("%s: %s (%s, %s, %s), driver %q", d.Spec, d.Name, d.Vendor, d.API, d.Type, d.Driver)
		usable = append(usable, d)
		gpu = gpu || d.API != "Go"
	}
	if !gpu {
		if os.Getenv("IA3_REQUIRE_GPU") == "1" {
			t.Fatal("no WebGPU adapter found and IA3_REQUIRE_GPU=1: the GPU conformance run is required")
		}
		t.Log("no WebGPU adapter found: GPU conformance skipped (set IA3_REQUIRE_GPU=1 to fail instead)")
	}
	cases := allCases()
	for _, d := range usable {
		t.Run(d.Spec, func(t *testing.T) {
			b, err := backend.Open(ctx, d.Spec)
			require.NoError(t, err, "open %s (%s)", d.Spec, d.Name)
			defer func() { assert.NoError(t, b.Close()) }()
			for _, c := range cases {
				t.Run(c.op+"/"+c.shape, func(t *testing.T) {
					if !c.runsOn(b.Info()) {
						t.Skipf("%s does not report QuantizedWeights", d.Spec)
					}
					res := runCase(b, c)
					assert.True(t, res.Pass, "%s %s on %s (%s): %s", c.op, c.shape, d.Spec, d.Name, res.Err)
					if !c.malformed {
						t.Logf("max abs %.3g, max rel %.3g, tol %.3g", res.MaxAbs, res.MaxRel, res.Tol)
					}
				})
			}
		})
	}
}

func TestOpenRefusesUnknownDevices(t *testing.T) {
	for _, spec := range []string{"gpu:99", "tpu", "cpu:7:1", "gpu:-1"} {
		t.Run(spec, func(t *testing.T) {
			var b backend.Backend
			var err error
			require.NotPanics(t, func() { b, err = backend.Open(context.Background(), spec) })
			if b != nil {
				b.Close()
			}
			require.Error(t, err, "Open(%q)", spec)
		})
	}
}
