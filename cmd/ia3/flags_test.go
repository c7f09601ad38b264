package main

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
)

// TestParseAdapterSpecs checks DIR and DIR=NAME values, default names and
// refusals.
func TestParseAdapterSpecs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []adapterSpec
		err  string
	}{
		{[]string{"ad/a", "ad/b/"}, []adapterSpec{{"ad/a", "a"}, {"ad/b/", "b"}}, ""},
		{[]string{"x/y=first", "z=w=second"}, []adapterSpec{{"x/y", "first"}, {"z=w", "second"}}, ""},
		{[]string{"ad/a", "other/a"}, nil, `adapter name "a" is used twice`},
		{[]string{"ad/a="}, nil, "want DIR or DIR=NAME"},
		{[]string{"=name"}, nil, "want DIR or DIR=NAME"},
	} {
		got, err := parseAdapterSpecs(tc.in)
		if tc.err != "" {
			require.Error(t, err, "%v", tc.in)
			assert.Contains(t, err.Error(), tc.err)
			assert.Equal(t, exitUsage, exitCode(err))
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

// TestParseWeights checks NAME:WEIGHT lists.
func TestParseWeights(t *testing.T) {
	w, err := parseWeights("--weights", "a:0.6, b:0.4,c:-1e-1")
	require.NoError(t, err)
	assert.Equal(t, weightedSpec{Adapters: []string{"a", "b", "c"}, Weights: []float64{0.6, 0.4, -0.1}}, w)
	for _, bad := range []string{"a", "a:x", ":1", "a:0.5,,b:1", "a:NaN", "a:-Inf", "a:1e999"} {
		_, err := parseWeights("--weights", bad)
		assert.Error(t, err, bad)
	}
}

// TestModulesFlag checks the three spellings of a module flag.
func TestModulesFlag(t *testing.T) {
	assert.Equal(t, []string{"q_proj", "v_proj"}, modulesFlag(" q_proj, v_proj ").List())
	assert.False(t, modulesFlag("q_proj").IsPattern())
	m := modulesFlag(`re:.*\.(k|v)$`)
	assert.True(t, m.IsPattern())
	assert.Equal(t, `.*\.(k|v)$`, m.Regex())
	assert.True(t, modulesFlag("all-linear").IsPattern())
	assert.Empty(t, modulesFlag("").List())
}

// TestCheckDeviceSpec checks which --device spellings are accepted.
func TestCheckDeviceSpec(t *testing.T) {
	for _, ok := range []string{"auto", "cpu", "gpu", "gpu:0", "GPU:12", " cpu "} {
		assert.NoError(t, checkDeviceSpec(ok), ok)
	}
	for _, bad := range []string{"", "tpu", "gpu:", "gpu:-1", "gpu:x", "cpu:0"} {
		err := checkDeviceSpec(bad)
		require.Error(t, err, bad)
		assert.Equal(t, exitUsage, exitCode(err), bad)
	}
}

// TestExitCode checks the mapping from errors to exit codes.
func TestExitCode(t *testing.T) {
	assert.Equal(t, exitOK, exitCode(nil))
	assert.Equal(t, exitFailure, exitCode(errors.New("disk full")))
	assert.Equal(t, exitUsage, exitCode(usagef("bad")))
	assert.Equal(t, exitUsage, exitCode(errors.New(`unknown command "x" for "ia3"`)))
	assert.Equal(t, exitInterrupted, exitCode(errors.Join(errors.New("step 3"), errContextCanceled())))
}

func errContextCanceled() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx.Err()
}

// TestLimitsText checks the devices table's limit column.
func TestLimitsText(t *testing.T) {
	d := backend.DeviceInfo{Limits: map[string]uint64{"maxStorageBufferBindingSize": 128 << 20,
		"maxComputeWorkgroupStorageSize": 32 << 10, "maxComputeInvocationsPerWorkgroup": 1024, "other": 7}}
	assert.Equal(t, "max-tensor=128MiB wg-memory=32KiB wg-threads=1024", limitsText(d))
	assert.Equal(t, "workers=2", limitsText(backend.DeviceInfo{Parallelism: 2}))
	assert.Equal(t, "-", limitsText(backend.DeviceInfo{}))
}
