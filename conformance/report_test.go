package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ia3/ia3/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleReport() *Report {
	return &Report{
		Date: time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC), GoVersion: "go1.26", OS: "linux", Arch: "amd64",
		Devices: []DeviceStatus{
			{Info: backend.DeviceInfo{Spec: "cpu", Name: "Go", API: "Go", Compute: true}, Status: statusRan},
			{Info: backend.DeviceInfo{Spec: "gpu:1", Name: "llvmpipe", API: "OpenGL", Reason: "no compute shaders"},
				Status: "no compute: no compute shaders"},
		},
		Results: []OpResult{
			{Device: "cpu", API: "Go", Op: "MatMul", Shape: "[3 7]×F32[7 5]", MaxAbs: 1e-7, MaxRel: 2e-8, Tol: 1e-6, Pass: true},
			{Device: "cpu", API: "Go", Op: "Softmax", Shape: "[1 1 1 1] scale 1", MaxAbs: math.NaN(), MaxRel: math.Inf(1),
				Tol: 1e-5, Err: "output 0: element 0 is NaN, want 1\nsecond line"},
		},
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleReport().WriteTable(&buf))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Len(t, lines, 5)
	assert.Regexp(t, `^DEVICE +API +DRIVER +OP +SHAPE +MAX ABS ERR +MAX REL ERR +TOL +PASS$`, lines[0])
	// Columns are aligned: every row's OP column starts where the header's does.
	col := strings.Index(lines[0], "OP")
	assert.Equal(t, "MatMul", lines[1][col:col+6])
	assert.Equal(t, "Softmax", lines[2][col:col+7])
	assert.Contains(t, lines[1], "1.00e-07")
	assert.True(t, strings.HasSuffix(lines[1], "ok"))
	assert.True(t, strings.HasSuffix(lines[2], "FAIL: output 0: element 0 is NaN, want 1"), "only the error's first line: %q", lines[2])
	assert.Equal(t, "cpu (Go, Go): 1 passed, 1 failed", lines[3])
	assert.Equal(t, "gpu:1 (llvmpipe, OpenGL): no compute: no compute shaders", lines[4])
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleReport().WriteJSON(&buf))
	var got struct {
		Date      time.Time
		GoVersion string
		OS, Arch  string
		Failed    int
		Devices   []struct {
			Info   backend.DeviceInfo
			Status string
		}
		Results []map[string]any
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	assert.Equal(t, "go1.26", got.GoVersion)
	assert.Equal(t, "linux", got.OS)
	assert.Equal(t, 1, got.Failed, "the no-compute device is not a failure")
	require.Len(t, got.Devices, 2)
	assert.Equal(t, "no compute shaders", got.Devices[1].Info.Reason)
	require.Len(t, got.Results, 2)
	assert.Equal(t, 1e-7, got.Results[0]["MaxAbs"])
	assert.Equal(t, "NaN", got.Results[1]["MaxAbs"])
	assert.Equal(t, "+Inf", got.Results[1]["MaxRel"])
	assert.Equal(t, false, got.Results[1]["Pass"])
}

func TestReportFailedCountsDevicesThatDidNotOpen(t *testing.T) {
	r := sampleReport()
	r.Devices = append(r.Devices, DeviceStatus{Info: backend.DeviceInfo{Spec: "gpu:0", Compute: true}, Status: "open failed: boom"})
	assert.Equal(t, 2, r.Failed())
}

func TestRunOpsOnOneDevice(t *testing.T) {
	ctx := context.Background()
	var spec string
	for _, d := range backend.Devices(ctx) {
		if d.Compute {
			spec = d.Spec
			break
		}
	}
	if spec == "" {
		t.Skip("no device registered that can compute")
	}
	rep, err := RunOps(ctx, []string{spec}, OpOptions{Filter: "^(Add|SumSquares)$"})
	require.NoError(t, err)
	require.Len(t, rep.Devices, 1)
	assert.Equal(t, statusRan, rep.Devices[0].Status)
	require.NotEmpty(t, rep.Results)
	for _, r := range rep.Results {
		assert.Contains(t, []string{"Add", "SumSquares"}, r.Op)
		assert.Equal(t, spec, r.Device)
	}
	var buf bytes.Buffer
	require.NoError(t, rep.WriteTable(&buf))
	assert.Contains(t, buf.String(), spec+" (")
}

func TestRunOpsRefusesBadInput(t *testing.T) {
	_, err := RunOps(context.Background(), []string{"tpu"}, OpOptions{})
	require.ErrorContains(t, err, `"tpu"`)
	_, err = RunOps(context.Background(), nil, OpOptions{Filter: "("})
	require.ErrorContains(t, err, "filter")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = RunOps(ctx, []string{"cpu"}, OpOptions{})
	require.ErrorIs(t, err, context.Canceled)
}
