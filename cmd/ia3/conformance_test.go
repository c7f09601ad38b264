package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConformanceReport runs both suites in one call with --report: the
// Markdown section names the device and both suites' counts and times the
// kernels, and the JSON beside it holds both reports.
func TestConformanceReport(t *testing.T) {
	c := fixture(t, "gpt2")
	md := filepath.Join(t.TempDir(), "cpu.md")
	r := run(t, "conformance", "--ops", "--fixtures", filepath.Dir(c.Dir), "--filter", "^(Add|gpt2)$",
		"--device", "cpu", "--report", md)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "logits_weighted_w")

	text, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(text), "| adapter | ")
	assert.Regexp(t, `\| operation suite \| [1-9][0-9]* passed, 0 failed \|`, string(text))
	assert.Regexp(t, `\| fixture suite \| [1-9][0-9]* passed, 0 failed \(1 cases under `, string(text))
	assert.Contains(t, string(text), "| elementwise | ")
	assert.Contains(t, string(text), "| MatMul | [512,512]·[512,512] | ")
	assert.Contains(t, string(text), "| gpt2 | ")

	data, err := os.ReadFile(filepath.Join(filepath.Dir(md), "cpu.json"))
	require.NoError(t, err)
	var rep struct {
		Ops struct {
			Failed  int
			Timings []map[string]any
		} `json:"ops"`
		Fixtures struct{ Cases []map[string]any } `json:"fixtures"`
	}
	require.NoError(t, json.Unmarshal(data, &rep))
	assert.Zero(t, rep.Ops.Failed)
	assert.Len(t, rep.Ops.Timings, 5)
	assert.Len(t, rep.Fixtures.Cases, 1)

	r = run(t, "conformance", "--ops", "--report", md, "--json", filepath.Join(filepath.Dir(md), "cpu.json"))
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "is the file --report writes beside")
}
