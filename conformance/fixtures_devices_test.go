package conformance

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/all"
	"github.com/ia3/ia3/model/modeltest"
)

// fixtureDevices lists the CPU and every WebGPU adapter that can compute.
// Without an adapter the GPU part is skipped with one log line, unless
// IA3_REQUIRE_GPU=1 makes that a failure.
func fixtureDevices(t *testing.T) []string {
	t.Helper()
	var specs []string
	gpu := false
	for _, d := range backend.Devices(context.Background()) {
		if !d.Compute || d.API == "Go" {
			continue
		}
		t.Logf("%s: %s (%s, %s)", d.Spec, d.Name, d.API, d.Driver)
		specs = append(specs, d.Spec)
		gpu = true
	}
	if !gpu {
		if os.Getenv("IA3_REQUIRE_GPU") == "1" {
			t.Fatal("no WebGPU adapter found and IA3_REQUIRE_GPU=1: the GPU fixture run is required")
		}
		t.Log("no WebGPU adapter found: GPU fixture conformance skipped (set IA3_REQUIRE_GPU=1 to fail instead)")
	}
	return append([]string{"cpu"}, specs...)
}

// TestFixturesOnEveryDevice runs every PEFT fixture case (the project's
// testdata, and ../shared's cases not copied there) on the CPU and every
// WebGPU adapter, one subtest per device × case × check.
func TestFixturesOnEveryDevice(t *testing.T) {
	// Each case once: modeltest.Cases lets testdata's copy hide ../shared's.
	var dirs []string
	names := map[string][]string{}
	for _, c := range modeltest.Cases(t) {
		dir := filepath.Dir(c.Dir)
		if names[dir] == nil {
			dirs = append(dirs, dir)
		}
		names[dir] = append(names[dir], regexp.QuoteMeta(c.Name))
	}
	devices := fixtureDevices(t)
	for _, dir := range dirs {
		start := time.Now()
		filter := "^(" + strings.Join(names[dir], "|") + ")$"
		rep, err := RunFixtures(context.Background(), dir, devices, FixtureOptions{Filter: filter})
		require.NoError(t, err, dir)
		t.Logf("%s: %d cases × %d devices in %v", dir, len(rep.Cases), len(devices), time.Since(start))
		var buf bytes.Buffer
		require.NoError(t, rep.WriteTable(&buf))
		t.Log("\n" + buf.String())
		for _, res := range rep.Results {
			t.Run(res.Device+"/"+res.Case+"/"+res.Check, func(t *testing.T) {
				assert.True(t, res.Pass, "%s", res.Err)
			})
		}
	}
}
