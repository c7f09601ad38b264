package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// result is one in-process run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// run executes the CLI in-process with args and a CPU-friendly log level.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// TestHelpTeaches checks that every command documents itself: a long
// description and an example, reachable with --help and exit code 0, and
// that the root help lists the exit codes.
func TestHelpTeaches(t *testing.T) {
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			assert.NotEmpty(t, c.Long, "Long description")
			assert.Contains(t, c.Example, "ia3 "+c.Name(), "Example runs the command")
			r := run(t, c.Name(), "--help")
			assert.Equal(t, 0, r.code)
			assert.Contains(t, r.stdout, "Examples:")
			assert.Empty(t, r.stderr)
		})
	}
	r := run(t, "--help")
	require.Equal(t, 0, r.code)
	for _, want := range []string{"Exit codes:", "0    success", "2    usage error", "Examples:"} {
		assert.Contains(t, r.stdout, want)
	}
}

// TestUsageErrors checks that command-line mistakes exit with 2 and one
// line on stderr, without a usage dump.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"inspect", "--modle", "x"}, "unknown flag: --modle"},
		{[]string{"inspect"}, "needs --model"},
		{[]string{"forward", "--model", "m", "--inputs", "i"}, "needs --out"},
		{[]string{"bench", "--batch", "two"}, `invalid argument "two"`},
		{[]string{"bench", "--shape", "gpt5"}, `unknown shape "gpt5"`},
		{[]string{"bench", "--shape", "tiny-gpt2", "--anchor", "a.json"}, "--anchor compares the shapes"},
		{[]string{"bench", "--shape", "tiny-gpt2", "--device", "tpu"}, `--device "tpu"`},
		{[]string{"devices", "extra"}, "takes no positional arguments"},
		{[]string{"conformance"}, "choose one of --ops or --fixtures"},
		{[]string{"forward", "--model", "m", "--inputs", "i", "--out", "o", "--adapter", "a", "--merge", "--disable"}, "exclude each other"},
		{[]string{"forward", "--model", "m", "--inputs", "i", "--out", "o", "--merge"}, "need at least one --adapter"},
		{[]string{"generate", "--model", "m", "--prompt", "p", "--top-p", "2"}, "--top-p in [0, 1]"},
		{[]string{"--log-level", "loud", "devices"}, `--log-level "loud"`},
		{[]string{"weighted", "--model", "m", "--adapter", "a", "--weights", "a=1", "--out", "o"}, "want NAME:WEIGHT"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, tc.args...)
			assert.Equal(t, exitUsage, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stderr, tc.want)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.NotContains(t, r.stderr, "Usage:")
		})
	}
}
