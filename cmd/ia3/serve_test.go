package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/tokenizer"
)

// lockedBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeMatchesGenerate starts `ia3 serve` on a free loopback port,
// checks that a completion through HTTP gives the token ids `ia3 generate`
// prints for the same adapter and prompt, greedy and seeded, and that
// cancelling the context (as Ctrl-C does) shuts it down with exit 0.
func TestServeMatchesGenerate(t *testing.T) {
	dir, _ := tinyModelDir(t)
	tok, err := tokenizer.LoadDir(dir)
	require.NoError(t, err)
	eos, ok := tok.IDToToken(5)
	require.True(t, ok)
	cfg, err := json.Marshal(map[string]any{"eos_token": eos,
		"chat_template": "{% for m in messages %}<{{ m.role }}> {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644))
	adapter := filepath.Join(fixture(t, "gpt2").Dir, "adapters", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, out, errOut, code := startServe(ctx, t, "--model", dir, "--adapter", adapter+"=sum", "--device", "cpu", "--api-key", "k")
	assert.Contains(t, out.String(), "(models: base, sum)")

	for _, tc := range []struct {
		name string
		args []string
		body map[string]any
	}{
		{"greedy", []string{"--prompt", "the quick brown fox"}, map[string]any{"temperature": 0}},
		{"sampled", []string{"--prompt", "the quick brown fox", "--temperature", "0.8", "--top-k", "30", "--seed", "5"},
			map[string]any{"temperature": 0.8, "top_k": 30, "seed": 5}},
		{"chat", []string{"--message", "user=hello there", "--temperature", "0.9", "--seed", "2"},
			map[string]any{"temperature": 0.9, "seed": 2, "messages": []map[string]string{{"role": "user", "content": "hello there"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"generate", "--model", dir, "--adapter", adapter,
				"--max-new-tokens", "6", "--device", "cpu", "--json"}, tc.args...)...)
			require.Equal(t, 0, r.code, r.stderr)
			var want struct {
				IDs  []int32 `json:"ids"`
				Text string  `json:"text"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &want))
			body := map[string]any{"model": "sum", "max_tokens": 6}
			path := "/v1/chat/completions"
			if tc.name != "chat" {
				body["prompt"], path = "the quick brown fox", "/v1/completions"
			}
			for k, v := range tc.body {
				body[k] = v
			}
			data, err := json.Marshal(body)
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(data))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer k")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var got struct {
				Choices []struct {
					Text     string  `json:"text"`
					TokenIDs []int32 `json:"token_ids"`
					Message  struct {
						Content string `json:"content"`
					} `json:"message"`
				} `json:"choices"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
			require.Len(t, got.Choices, 1)
			assert.Equal(t, want.IDs, got.Choices[0].TokenIDs)
			assert.Equal(t, want.Text, got.Choices[0].Text+got.Choices[0].Message.Content)
		})
	}
	resp, err := http.Get(url + "/v1/models")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the key is required")

	stopServe(t, cancel, code, errOut)
	assert.True(t, strings.HasSuffix(out.String(), "stopped\n"), out.String())
}

// startServe runs `ia3 serve` with args on a free loopback port until ctx
// ends, and returns its URL once it listens, its output and the channel
// its exit code arrives on.
func startServe(ctx context.Context, t *testing.T, args ...string) (url string, out, errOut *lockedBuffer, code chan int) {
	t.Helper()
	out, errOut, code = &lockedBuffer{}, &lockedBuffer{}, make(chan int, 1)
	go func() {
		code <- execute(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), out, errOut)
	}()
	addr := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(out.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 30*time.Second, 10*time.Millisecond, "serve starts: %s %s", out, errOut)
	return url, out, errOut, code
}

// stopServe cancels a server startServe started and checks it exits
// with code 0.
func stopServe(t *testing.T, cancel context.CancelFunc, code chan int, errOut *lockedBuffer) {
	t.Helper()
	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
}

// TestServeUsage checks the refused command lines.
func TestServeUsage(t *testing.T) {
	r := run(t, "serve")
	assert.Equal(t, exitUsage, r.code)
	r = run(t, "serve", "--model", t.TempDir(), "--max-batch", "0")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--max-batch")
	dir, _ := tinyModelDir(t)
	r = run(t, "serve", "--model", dir, "--device", "cpu", "--addr", "256.0.0.1:99999")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "--addr")
}

// TestBenchServe runs `ia3 bench --serve` on the tiny GPT-2 with two
// adapters: every request succeeds and both runs are reported.
func TestBenchServe(t *testing.T) {
	dir, _ := tinyModelDir(t)
	adapters := filepath.Join(fixture(t, "gpt2").Dir, "adapters")
	r := run(t, "bench", "--serve", "--model", dir, "--adapter", filepath.Join(adapters, "a"), "--adapter", filepath.Join(adapters, "b"),
		"--clients", "8", "--requests", "2", "--max-tokens", "4", "--device", "cpu", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var out struct {
		Models     []string `json:"models"`
		Concurrent struct {
			Requests, Errors, Tokens int
		} `json:"concurrent"`
		Serial *struct {
			Requests, Errors, Tokens int
		} `json:"serial"`
		Speedup float64 `json:"speedup"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	assert.Equal(t, []string{"base", "a", "b"}, out.Models)
	assert.Equal(t, 16, out.Concurrent.Requests)
	assert.Zero(t, out.Concurrent.Errors)
	assert.Equal(t, 64, out.Concurrent.Tokens)
	require.NotNil(t, out.Serial)
	assert.Equal(t, 16, out.Serial.Requests)
	assert.Equal(t, 64, out.Serial.Tokens)
	assert.Positive(t, out.Speedup)

	r = run(t, "bench", "--serve", "--clients", "2")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--serve needs --model")
	r = run(t, "bench", "--serve", "--model", dir, "--clients", "0")
	assert.Equal(t, exitUsage, r.code)
}

// TestServeMerged checks that --merge needs exactly one adapter.
func TestServeMerged(t *testing.T) {
	dir, _ := tinyModelDir(t)
	r := run(t, "serve", "--model", dir, "--merge", "--device", "cpu")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "--merge serves exactly one --adapter")
}
