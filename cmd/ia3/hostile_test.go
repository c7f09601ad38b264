package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is one command line a hostile or careless user might type, and
// what its one line on stderr must say.
type hostile struct {
	name string
	args []string
	want []string
}

// checkHostile runs each case and requires exit 1 (a run-time failure,
// never 2, the usage code, nor a crash) and exactly one line on stderr
// holding every wanted fragment.
func checkHostile(t *testing.T, cases []hostile) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			require.Equal(t, exitFailure, r.code, "stderr: %s", r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w)
			}
		})
	}
}

// TestWeightedNameTaken checks that a weighted adapter named like a loaded
// one is refused: PEFT's add_weighted_adapter returns early, and the
// result used to be saved as a byte copy of the loaded adapter.
func TestWeightedNameTaken(t *testing.T) {
	c := fixture(t, "llama")
	base := filepath.Join(c.Dir, "base")
	a, b := filepath.Join(c.Dir, "adapters", "a"), filepath.Join(c.Dir, "adapters", "b")
	out := filepath.Join(t.TempDir(), "w")
	checkHostile(t, []hostile{
		{"weighted", []string{"weighted", "--model", base, "--device", "cpu", "--adapter", a, "--adapter", b,
			"--weights", "a:0.6,b:0.4", "--name", "a", "--out", out}, []string{`--name a: adapter "a" is already loaded from ` + a}},
		{"forward", []string{"forward", "--model", base, "--device", "cpu", "--adapter", a, "--adapter", b,
			"--weighted", "a:0.6,b:0.4=b", "--inputs", filepath.Join(c.Dir, "inputs.safetensors"), "--out", out},
			[]string{`--weighted b: adapter "b" is already loaded from ` + b, "choose another name"}},
	})
	assert.NoDirExists(t, out, "nothing saved")
}
