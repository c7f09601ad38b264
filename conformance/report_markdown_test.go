package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/cpu"
)

// familyCases returns the first n cases of the named family, so the test
// follows renames in the suite.
func familyCases(t *testing.T, name string, n int) []opCase {
	t.Helper()
	for _, f := range caseFamilies() {
		if f.name == name {
			cs := f.cases()
			require.GreaterOrEqual(t, len(cs), n, name)
			return cs[:n]
		}
	}
	t.Fatalf("no family %q", name)
	return nil
}

// markdownReports builds an op and a fixture report: the CPU ran both
// suites (one failing op), a GPU adapter could not compute.
func markdownReports(t *testing.T) (*Report, *FixtureReport, []opCase) {
	mm := familyCases(t, "matmul", 2)
	att := familyCases(t, "attention", 1)[0]
	bad := familyCases(t, "malformed", 1)[0]
	date := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	cpuInfo := backend.DeviceInfo{Spec: "cpu", Name: "Neoverse | V2", Vendor: "ARM", API: "Go", Type: "Host",
		Driver: "go1.26 linux/arm64", Compute: true}
	gpuInfo := backend.DeviceInfo{Spec: "gpu", Name: "WebGPU", API: "WebGPU", Reason: "WebGPU not built"}
	ops := &Report{Date: date, GoVersion: "go1.26", OS: "linux", Arch: "arm64",
		Devices: []DeviceStatus{{Info: gpuInfo, Status: "no compute: WebGPU not built"}, {Info: cpuInfo, Status: statusRan}},
		Results: []OpResult{
			{Device: "cpu", Op: mm[0].op, Shape: mm[0].shape, MaxRel: 1e-7, Tol: 1e-5, Pass: true},
			{Device: "cpu", Op: mm[1].op, Shape: mm[1].shape, MaxRel: 5e-6, Tol: 1e-5, Pass: true},
			{Device: "cpu", Op: att.op, Shape: att.shape, MaxRel: math.NaN(), Tol: 1e-5, Err: "NaN"},
			{Device: "cpu", Op: bad.op, Shape: bad.shape, Pass: true, Err: "bad shape"},
		},
		Timings: []KernelTiming{
			{Device: "cpu", Kernel: "MatMul", Shape: "[512,512]·[512,512]", Runs: 5, MedianMS: 10, GFLOPS: 26.8},
			{Device: "cpu", Kernel: "Softmax", Shape: "[1,12,128,128] causal", Runs: 5, MedianMS: 0.5},
		},
	}
	fix := &FixtureReport{Date: date, GoVersion: "go1.26", OS: "linux", Arch: "arm64", Root: "fx",
		Cases:   []FixtureCase{{Name: "gpt2", Dir: "fx/gpt2"}},
		Devices: []DeviceStatus{{Info: cpuInfo, Status: statusRan}},
		Results: []FixtureResult{
			{Case: "gpt2", Check: "logits_a", Device: "cpu", MaxErr: 1e-6, Tol: 1e-4, Pass: true},
			{Case: "gpt2", Check: "train losses", Device: "cpu", MaxErr: 3e-5, Tol: 1e-4, Pass: true},
		},
	}
	return ops, fix, []opCase{mm[0], mm[1], att, bad}
}

// TestWriteMarkdown checks the whole section a run writes: the device
// table, the worst row of each family (the failing one first, a malformed
// family without errors), the timings, the fixture cases, and the devices
// that did not run.
func TestWriteMarkdown(t *testing.T) {
	ops, fix, cs := markdownReports(t)
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, ops, fix))
	want := fmt.Sprintf(`### Neoverse \| V2, Go (linux/arm64)

| | |
| --- | --- |
| adapter | Neoverse \| V2 (ARM, Host, `+"`cpu`"+`) |
| API, driver | Go, go1.26 linux/arm64 |
| OS/arch | linux/arm64, go1.26 |
| date | 2026-12-05 |
| operation suite | 3 passed, 1 failed |
| fixture suite | 2 passed, 0 failed (1 cases under fx) |

| op family | rows | failed | worst rel. error | its tolerance | at |
| --- | ---: | ---: | ---: | ---: | --- |
| matmul | 2 | 0 | 5.00e-06 | 1.00e-05 | %s %s |
| attention | 1 | 1 | NaN | 1.00e-05 | %s %s |
| malformed | 1 | 0 | – | – | errors returned |

| kernel | shape | median ms (of 5) | GFLOP/s |
| --- | --- | ---: | ---: |
| MatMul | [512,512]·[512,512] | 10.000 | 26.8 |
| Softmax | [1,12,128,128] causal | 0.500 | – |

| fixture case | checks | failed | worst abs. error | its tolerance | at |
| --- | ---: | ---: | ---: | ---: | --- |
| gpt2 | 2 | 0 | 3.00e-05 | 1.00e-04 | train losses |

Not run: `+"`gpu`"+` (WebGPU, WebGPU): no compute: WebGPU not built
`, cs[1].op, cs[1].shape, cs[2].op, cs[2].shape)
	assert.Equal(t, want, buf.String())

	// One suite alone leaves the other's rows out.
	buf.Reset()
	require.NoError(t, WriteMarkdown(&buf, nil, fix))
	assert.Contains(t, buf.String(), "| fixture suite | 2 passed, 0 failed")
	assert.NotContains(t, buf.String(), "operation suite")
	assert.NotContains(t, buf.String(), "Not run")

	buf.Reset()
	require.NoError(t, WriteMarkdown(&buf, &Report{}, nil))
	assert.Equal(t, "No device was considered.\n", buf.String())
}

// TestWriteReportJSON checks the combined JSON: both reports under "ops"
// and "fixtures", null for a suite that did not run, timings included.
func TestWriteReportJSON(t *testing.T) {
	ops, fix, _ := markdownReports(t)
	var buf bytes.Buffer
	require.NoError(t, WriteReportJSON(&buf, ops, fix))
	var got struct {
		Ops struct {
			Arch    string
			Failed  int
			Timings []KernelTiming
		} `json:"ops"`
		Fixtures struct {
			Root  string
			Cases []FixtureCase
		} `json:"fixtures"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	assert.Equal(t, "arm64", got.Ops.Arch)
	assert.Equal(t, 1, got.Ops.Failed)
	assert.Equal(t, ops.Timings, got.Ops.Timings)
	assert.Equal(t, "fx", got.Fixtures.Root)
	assert.Equal(t, fix.Cases, got.Fixtures.Cases)

	buf.Reset()
	require.NoError(t, WriteReportJSON(&buf, ops, nil))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	assert.Equal(t, "null", string(raw["fixtures"]))
}

// TestTimeKernels times the main kernels on the CPU: every kernel gets a
// row with its runs, a positive median, and a rate where FLOPs are stated.
func TestTimeKernels(t *testing.T) {
	b := backend.Checked(cpu.New(0))
	defer b.Close()
	got, err := timeKernels(context.Background(), b)
	require.NoError(t, err)
	var names []string
	for _, k := range got {
		names = append(names, k.Kernel)
		assert.Equal(t, "cpu", k.Device)
		assert.Equal(t, timingRuns, k.Runs)
		assert.Greater(t, k.MedianMS, 0.0, k.Kernel)
		if k.Kernel == "MatMul" || k.Kernel == "Linear" {
			assert.Greater(t, k.GFLOPS, 0.0, k.Kernel)
		} else {
			assert.Zero(t, k.GFLOPS, k.Kernel)
		}
	}
	assert.Equal(t, []string{"MatMul", "Linear", "Softmax", "LayerNorm", "CrossEntropy"}, names)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = timeKernels(ctx, b)
	assert.ErrorIs(t, err, context.Canceled)
}
