package conformance

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

func sampleFixtureReport() *FixtureReport {
	return &FixtureReport{
		Date: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC), GoVersion: "go1.26", OS: "linux", Arch: "amd64",
		Root:  "/fixtures",
		Cases: []FixtureCase{{Name: "gpt2", Dir: "/fixtures/gpt2"}, {Name: "odd", Dir: "/fixtures/odd"}},
		Devices: []DeviceStatus{
			{Info: backend.DeviceInfo{Spec: "cpu", Name: "Go", API: "Go", Compute: true}, Status: statusRan},
			{Info: backend.DeviceInfo{Spec: "gpu:0", Name: "lavapipe", API: "Vulkan", Compute: true}, Status: statusRan},
		},
		Results: []FixtureResult{
			{Case: "gpt2", Check: "logits_a", Device: "cpu", API: "Go", MaxErr: 2.4e-6, Tol: 4.4e-4, Pass: true},
			{Case: "gpt2", Check: "refuses unload", Device: "cpu", API: "Go", Pass: true, Err: "unload: head has no weight"},
			{Case: "odd", Check: "load base model", Device: "gpu:0", API: "Vulkan", MaxErr: math.Inf(1),
				Err: "base model config: model_type \"mamba\" is not supported\nsupported: gpt2, ..."},
		},
	}
}

func TestFixtureReportWriteTable(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleFixtureReport().WriteTable(&buf))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Len(t, lines, 6)
	assert.Regexp(t, `^CASE +CHECK +DEVICE +API +MAX ABS ERR +TOL +PASS$`, lines[0])
	col := strings.Index(lines[0], "DEVICE")
	assert.Equal(t, "cpu", lines[1][col:col+3], "columns are aligned")
	assert.Equal(t, "gpu:0", lines[3][col:col+5])
	assert.Contains(t, lines[1], "2.40e-06")
	assert.Contains(t, lines[1], "4.40e-04")
	assert.True(t, strings.HasSuffix(lines[1], "ok"))
	assert.True(t, strings.HasSuffix(lines[2], "ok"), "a refusal PEFT makes too passes: %q", lines[2])
	assert.True(t, strings.HasSuffix(lines[3], `FAIL: base model config: model_type "mamba" is not supported`), "first line only: %q", lines[3])
	assert.Equal(t, "cpu (Go, Go): 2 passed, 0 failed", lines[4])
	assert.Equal(t, "gpu:0 (lavapipe, Vulkan): 0 passed, 1 failed", lines[5])
}

func TestFixtureReportWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleFixtureReport().WriteJSON(&buf))
	var got struct {
		GoVersion string
		Root      string
		Cases     []FixtureCase
		Failed    int
		Devices   []DeviceStatus
		Results   []map[string]any
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	assert.Equal(t, "go1.26", got.GoVersion)
	assert.Equal(t, "/fixtures", got.Root)
	assert.Equal(t, []FixtureCase{{Name: "gpt2", Dir: "/fixtures/gpt2"}, {Name: "odd", Dir: "/fixtures/odd"}}, got.Cases)
	assert.Equal(t, 1, got.Failed)
	require.Len(t, got.Devices, 2)
	require.Len(t, got.Results, 3)
	assert.Equal(t, "logits_a", got.Results[0]["Check"])
	assert.Equal(t, 2.4e-6, got.Results[0]["MaxErr"])
	assert.NotContains(t, got.Results[0], "Err", "empty errors are left out")
	assert.Equal(t, "+Inf", got.Results[2]["MaxErr"])
	assert.Equal(t, false, got.Results[2]["Pass"])
	assert.Contains(t, got.Results[2]["Err"], "supported: gpt2", "the JSON keeps the whole error")
}

func TestFixtureReportFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*FixtureReport)
		want int
	}{
		{"failing row", func(*FixtureReport) {}, 1},
		{"all pass", func(r *FixtureReport) { r.Results = r.Results[:2] }, 0},
		{"device did not open", func(r *FixtureReport) {
			r.Devices = append(r.Devices, DeviceStatus{Info: backend.DeviceInfo{Spec: "gpu:1", Compute: true}, Status: "open failed: boom"})
		}, 2},
		{"device cannot compute", func(r *FixtureReport) {
			r.Devices = append(r.Devices, DeviceStatus{Info: backend.DeviceInfo{Spec: "gpu:1"}, Status: "no compute: GLES"})
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleFixtureReport()
			tc.edit(r)
			assert.Equal(t, tc.want, r.Failed())
		})
	}
}
