package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/hub"
	"github.com/ia3/ia3/hub/hubtest"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model/modeltest"
)

// hubEnv points the hub package at srv and a fresh cache, with no token
// and no offline mode from the user's environment.
func hubEnv(t *testing.T, srv *hubtest.Server) string {
	t.Helper()
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", srv.Hub.URL)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("TRANSFORMERS_OFFLINE", "")
	return cache
}

// TestForwardFromHub runs `ia3 forward` with --model and --adapter given
// as Hub ids served by a fake Hub: the logits file and stdout are
// byte-identical to the run on the fixture directories, online and then
// with HF_HUB_OFFLINE=1 and the server closed.
func TestForwardFromHub(t *testing.T) {
	c := modeltest.NamedCase(t, "gpt2")
	srv := hubtest.New(t)
	srv.AddDir(t, "ia3-test/tiny-gpt2", "1111111111111111111111111111111111111111", filepath.Join(c.Dir, "base"), "v1")
	srv.AddDir(t, "ia3-test/tiny-gpt2-ia3", "2222222222222222222222222222222222222222", filepath.Join(c.Dir, "adapters", "a"))
	cache := hubEnv(t, srv)
	inputs := filepath.Join(c.Dir, "inputs.safetensors")
	forward := func(t *testing.T, modelArg, adapterArg string) (result, []byte) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "logits.safetensors")
		r := run(t, "forward", "--device", "cpu", "--model", modelArg, "--adapter", adapterArg+"=a",
			"--inputs", inputs, "--out", out)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		return r, data
	}
	local, want := forward(t, filepath.Join(c.Dir, "base"), filepath.Join(c.Dir, "adapters", "a"))
	for _, tc := range []struct {
		name, model string
		offline     bool
	}{
		{"online", "ia3-test/tiny-gpt2", false},
		{"online tag", "ia3-test/tiny-gpt2@v1", false},
		{"offline", "ia3-test/tiny-gpt2", true},
		{"offline commit", "ia3-test/tiny-gpt2@1111111111111111111111111111111111111111", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.offline {
				srv.Close()
				t.Setenv("HF_HUB_OFFLINE", "1")
			}
			r, got := forward(t, tc.model, "ia3-test/tiny-gpt2-ia3")
			assert.Equal(t, want, got, "logits file")
			assert.Equal(t, local.stdout, r.stdout)
		})
	}
	assert.FileExists(t, filepath.Join(cache, "models--ia3-test--tiny-gpt2", "refs", "v1"))

	t.Run("offline and not cached", func(t *testing.T) {
		t.Setenv("HF_HUB_OFFLINE", "1")
		r := run(t, "forward", "--device", "cpu", "--model", "ia3-test/absent", "--inputs", inputs,
			"--out", filepath.Join(t.TempDir(), "x.safetensors"))
		assert.Equal(t, exitFailure, r.code)
		assert.Contains(t, r.stderr, "--model ia3-test/absent")
		assert.Contains(t, r.stderr, "not in the Hugging Face cache")
		assert.Contains(t, r.stderr, "HF_HUB_OFFLINE=1")
	})
}

// TestHubUsageErrorsFirst checks that a malformed command line with a
// Hub id exits 2 without a request to the Hub.
func TestHubUsageErrorsFirst(t *testing.T) {
	srv := hubtest.New(t)
	hubEnv(t, srv)
	for _, args := range [][]string{
		{"forward", "--model", "org/model", "--inputs", "i", "--out", "o", "--merge"},
		{"forward", "--model", "org/model", "--adapter", "org/a", "--adapter", "org/a", "--inputs", "i", "--out", "o"},
		{"inspect", "--model", "org/model", "--config", "c.json", "--target-modules", "q"},
		{"train", "--model", "org/model", "--data", "d.jsonl", "--out", t.TempDir(), "--target-modules", "re:("},
		{"eval", "--model", "org/model", "--data", "d.jsonl", "--batch-size", "0"},
		{"generate", "--model", "org/model", "--prompt", "p", "--top-p", "2"},
	} {
		r := run(t, args...)
		assert.Equal(t, exitUsage, r.code, "%v: %s", args, r.stderr)
	}
	assert.Empty(t, srv.Log())
}

// TestHubErrorsOnCommandLine checks the one-line messages of a missing
// repo and a gated one.
func TestHubErrorsOnCommandLine(t *testing.T) {
	srv := hubtest.New(t)
	srv.AddRepo("org/gated", "3333333333333333333333333333333333333333", map[string][]byte{"config.json": []byte(`{}`)})
	srv.RequireToken("hf_x", "org/gated")
	hubEnv(t, srv)
	r := run(t, "inspect", "--model", "org/gated")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "403")
	assert.Contains(t, r.stderr, "HF_TOKEN")
	t.Setenv("HF_TOKEN", "hf_x")
	r = run(t, "inspect", "--model", "org/gated@nope")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "revision nope")
}

// TestAdapterDefaultName names an adapter given by Hub id after its repo.
func TestAdapterDefaultName(t *testing.T) {
	specs, err := parseAdapterSpecs([]string{"org/my-adapter@v2", "org/other=x", "./some/dir"})
	require.NoError(t, err)
	assert.Equal(t, []adapterSpec{{"org/my-adapter@v2", "my-adapter"}, {"org/other", "x"}, {"./some/dir", "dir"}}, specs)
}

// durations matches the run times a command prints.
var durations = regexp.MustCompile(`\b[0-9.]+(ns|µs|ms|s|m)\b`)

// TestEveryCommandFromHub runs each command that takes a model or an
// adapter twice, on local directories and on the same files served as
// Hub ids, and compares stdout and the files written (paths to --out
// replaced). train also records the Hub id in adapter_config.json.
func TestEveryCommandFromHub(t *testing.T) {
	c := modeltest.NamedCase(t, "gpt2")
	dir, data := tinyModelDir(t)
	srv := hubtest.New(t)
	srv.AddDir(t, "ia3-test/tiny", "4444444444444444444444444444444444444444", dir, "v1")
	srv.AddDir(t, "ia3-test/ad-a", "5555555555555555555555555555555555555555", filepath.Join(c.Dir, "adapters", "a"))
	srv.AddDir(t, "ia3-test/ad-b", "6666666666666666666666666666666666666666", filepath.Join(c.Dir, "adapters", "b"))
	hubEnv(t, srv)
	local := map[string]string{"M": dir, "A": filepath.Join(c.Dir, "adapters", "a"), "B": filepath.Join(c.Dir, "adapters", "b"),
		"C": filepath.Join(c.Dir, "adapters", "b", "adapter_config.json")}
	remote := map[string]string{"M": "ia3-test/tiny@v1", "A": "ia3-test/ad-a", "B": "ia3-test/ad-b", "C": "ia3-test/ad-b"}
	for _, tc := range []struct {
		name  string
		args  []string
		files []string // under OUT
	}{
		{"inspect", []string{"inspect", "--model", "M", "--json"}, nil},
		{"inspect --config", []string{"inspect", "--model", "M", "--config", "C", "--json"}, nil},
		{"bench", []string{"bench", "--config", "M", "--device", "cpu", "--steps", "1", "--warmup", "0", "--batch", "1", "--seq", "4", "--no-train", "--json"}, nil},
		{"eval", []string{"eval", "--model", "M", "--adapter", "A", "--data", data, "--device", "cpu", "--json"}, nil},
		{"generate", []string{"generate", "--model", "M", "--adapter", "A=a", "--prompt", "the quick", "--max-new-tokens", "4", "--device", "cpu"}, nil},
		{"classify", []string{"classify", "--model", "M", "--adapter", "A", "--input", "the quick", "--choice", " brown", "--choice", " fox", "--device", "cpu", "--json"}, nil},
		{"merge", []string{"merge", "--model", "M", "--adapter", "A=a", "--out", "OUT", "--device", "cpu"}, []string{"model.safetensors", "config.json"}},
		{"weighted", []string{"weighted", "--model", "M", "--adapter", "A=a", "--adapter", "B=b", "--weights", "a:0.6,b:0.4", "--name", "w", "--out", "OUT", "--device", "cpu"},
			[]string{"adapter_model.safetensors", "adapter_config.json"}},
		{"train", []string{"train", "--model", "M", "--data", data, "--steps", "2", "--batch-size", "2", "--device", "cpu", "--no-plot", "--out", "OUT"},
			[]string{"adapter_model.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runWith := func(names map[string]string) (string, map[string][]byte, string) {
				out := t.TempDir()
				args := make([]string, len(tc.args))
				for i, a := range tc.args {
					name, suffix, _ := strings.Cut(a, "=")
					if v, ok := names[name]; ok {
						a = v
						if suffix != "" {
							a += "=" + suffix
						}
					} else if a == "OUT" {
						a = out
					}
					args[i] = a
				}
				r := run(t, args...)
				require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
				files := map[string][]byte{}
				for _, f := range tc.files {
					b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f)))
					require.NoError(t, err)
					files[f] = b
				}
				return durations.ReplaceAllString(strings.ReplaceAll(r.stdout, out, "OUT"), "T"), files, out
			}
			wantOut, wantFiles, _ := runWith(local)
			gotOut, gotFiles, out := runWith(remote)
			if tc.name != "bench" { // bench prints timings
				assert.Equal(t, wantOut, gotOut)
			}
			assert.Equal(t, wantFiles, gotFiles)
			if tc.name == "train" {
				cfg, err := ia3.ReadConfig(filepath.Join(out, ia3.ConfigFile))
				require.NoError(t, err)
				assert.Equal(t, "ia3-test/tiny", cfg.BaseModelNameOrPath)
				assert.Equal(t, "v1", cfg.Revision)
			}
		})
	}
}

// TestHubBars draws a byte bar per file on a terminal and ends its line
// when the file is done.
func TestHubBars(t *testing.T) {
	var buf strings.Builder
	h := &hubBars{a: &app{stderr: &buf}, term: true}
	h.report(hub.Progress{Repo: "org/m", File: "model.safetensors", Done: 0, Total: 2048})
	h.report(hub.Progress{Repo: "org/m", File: "model.safetensors", Done: 2048, Total: 2048})
	h.report(hub.Progress{Repo: "org/m", File: "model.safetensors", Done: 2048, Total: 2048, Finished: true})
	h.finish()
	assert.Contains(t, buf.String(), "org/m model.safetensors")
	assert.Contains(t, buf.String(), "2.0 kB")
	assert.True(t, strings.HasSuffix(buf.String(), "\n"))
}
