package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/chat"
	"github.com/ia3/ia3/model/modeltest"
)

// servedCase is one request of TestCompletionsMatchGenerate.
type servedCase struct {
	model     string
	prompt    string
	maxTokens int
	sample    model.SampleOptions
	n         int
	stream    bool
	cancel    bool // the client goes away after the first event
}

// body is the request's JSON body.
func (c servedCase) body() map[string]any {
	b := map[string]any{"model": c.model, "prompt": c.prompt, "max_tokens": c.maxTokens,
		"temperature": c.sample.Temperature, "seed": c.sample.Seed, "stream": c.stream, "n": c.n}
	if c.sample.TopK > 0 {
		b["top_k"] = c.sample.TopK
	}
	if c.sample.TopP > 0 {
		b["top_p"] = c.sample.TopP
	}
	return b
}

// servedCases mixes every model id, prompts of different lengths, greedy
// and seeded sampling, n > 1, streaming and cancellation.
func servedCases() []servedCase {
	prompts := []string{"the quick brown fox", "hello", "the lazy dog jumps over the quick brown fox again and again", "a b"}
	models := []string{BaseModelID, "a", "b", "w"}
	var out []servedCase
	for i := range 24 {
		c := servedCase{model: models[i%len(models)], prompt: prompts[(i/4+i)%len(prompts)], maxTokens: 3 + i%8, n: 1}
		if i%3 != 0 {
			c.sample = model.SampleOptions{Temperature: 0.7 + 0.1*float64(i%4), Seed: uint64(i)}
			if i%2 == 0 {
				c.sample.TopK, c.sample.TopP = 20, 0.9
			}
		}
		c.stream = i%4 == 1
		c.cancel = i%7 == 3
		if i%5 == 2 {
			c.n = 2
		}
		if c.cancel {
			c.stream, c.maxTokens = true, 40
		}
		out = append(out, c)
	}
	return out
}

// TestCompletionsMatchGenerate sends concurrent requests over several
// adapters and the base model, with prompts of different lengths, some
// streamed and some cancelled midway, and checks that every completion
// equals what Generate gives its prompt with that adapter alone; then that
// the batch, queue and KV cache are back to idle.
func TestCompletionsMatchGenerate(t *testing.T) {
	for _, name := range []string{"gpt2", "llama"} {
		t.Run(name, func(t *testing.T) { checkServedCases(t, newHarness(t, name, Options{MaxBatch: 6})) })
	}
}

// checkServedCases sends servedCases concurrently and checks each
// completion against Generate alone, then that the server is idle.
func checkServedCases(t *testing.T, h *harness) {
	cases := servedCases()
	for _, c := range cases { // references first: the test measures the server, not the reference
		for i := range c.n {
			o := c.sample
			o.Seed += uint64(i)
			h.want(c.model, h.encode(c.prompt), c.maxTokens, o)
		}
	}
	before := h.warmGoroutines()
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			if c.cancel {
				h.cancelAfterFirstEvent(c)
				return
			}
			status, body := h.post(context.Background(), "/v1/completions", c.body())
			if !assert.Equal(t, http.StatusOK, status, "case %d: %s", i, body) {
				return
			}
			prompt := h.encode(c.prompt)
			if c.stream {
				texts, finish, done := streamed(t, body)
				assert.True(t, done, "case %d ends with [DONE]", i)
				for k := range c.n {
					o := c.sample
					o.Seed += uint64(k)
					want, err := h.srv.decode(h.want(c.model, prompt, c.maxTokens, o))
					require.NoError(t, err)
					assert.Equal(t, want, texts[k], "case %d choice %d: %+v", i, k, c)
					assert.Contains(t, []string{"stop", "length"}, finish[k])
				}
				return
			}
			var got completion
			require.NoError(t, json.Unmarshal(body, &got))
			require.Len(t, got.Choices, c.n)
			total := 0
			for k, ch := range got.Choices {
				o := c.sample
				o.Seed += uint64(k)
				want := h.want(c.model, prompt, c.maxTokens, o)
				assert.Equal(t, want, ch.TokenIDs, "case %d choice %d: %+v", i, k, c)
				text, err := h.srv.decode(want)
				require.NoError(t, err)
				assert.Equal(t, text, ch.Text)
				total += len(ch.TokenIDs)
			}
			assert.Equal(t, len(prompt), got.Usage.PromptTokens)
			assert.Equal(t, total, got.Usage.CompletionTokens)
			assert.Equal(t, len(prompt)+total, got.Usage.TotalTokens)
		})
	}
	wg.Wait()
	h.assertIdle(before)
	st := h.srv.Stats()
	assert.Positive(t, st.DecodeSteps)
	assert.Positive(t, st.PrefillSteps)
}

// cancelAfterFirstEvent streams c and goes away after the first event.
func (h *harness) cancelAfterFirstEvent(c servedCase) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data, err := json.Marshal(c.body())
	require.NoError(h.t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.http.URL+"/v1/completions", strings.NewReader(string(data)))
	require.NoError(h.t, err)
	resp, err := h.http.Client().Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(h.t, err)
	assert.True(h.t, strings.HasPrefix(line, "data: {"), line)
}

// warmGoroutines serves one request, so that what the runtime and the
// HTTP stack start once exists, closes its connection and returns the
// goroutine count to come back to.
func (h *harness) warmGoroutines() int {
	status, body := h.post(context.Background(), "/v1/completions", `{"model":"a","prompt":"hi","max_tokens":2,"stream":true}`)
	require.Equal(h.t, http.StatusOK, status, "%s", body)
	h.http.Client().CloseIdleConnections()
	h.http.CloseClientConnections()
	time.Sleep(50 * time.Millisecond) // let the connection goroutines end
	return runtime.NumGoroutine()
}

// waitDrained waits until no sequence is queued or decoding: a response
// can arrive before the scheduler drops its finished row.
func (h *harness) waitDrained() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		st := h.srv.Stats()
		return st.Queued == 0 && st.Rows == 0
	}, 30*time.Second, 5*time.Millisecond, "the batch drains")
}

// assertIdle waits until no sequence is queued or decoding, then checks
// that the KV cache holds no row and that the goroutines are back to
// their count before the requests (idle connections closed).
func (h *harness) assertIdle(before int) {
	h.t.Helper()
	h.waitDrained()
	assert.Equal(h.t, 0, h.srv.Stats().CacheRows, "KV cache rows")
	h.http.Client().CloseIdleConnections()
	h.http.CloseClientConnections()
	// Polled here: assert.Eventually runs its condition on a goroutine
	// of its own.
	for i := 0; i < 2000 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if !assert.LessOrEqual(h.t, runtime.NumGoroutine(), before, "goroutines back to their idle count") {
		buf := make([]byte, 1<<20)
		h.t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}

// TestBadRequests checks that bad requests get OpenAI-shaped errors with
// the right status, and that the server keeps serving after each.
func TestBadRequests(t *testing.T) {
	h := newHarness(t, "gpt2", Options{APIKey: "secret", MaxBodyBytes: 1 << 16, MaxTokens: 32})
	auth := []string{"Authorization", "Bearer secret"}
	good := `{"model":"a","prompt":"hello","max_tokens":2,"temperature":0}`
	for _, tc := range []struct {
		name, path, body string
		header           []string
		status           int
		param, code      string
	}{
		{"unknown adapter", "/v1/completions", `{"model":"nope","prompt":"hi"}`, auth, 404, "model", "model_not_found"},
		{"malformed JSON", "/v1/completions", `{"model":"a",`, auth, 400, "", "invalid_json"},
		{"trailing data", "/v1/completions", good + `{}`, auth, 400, "", "invalid_json"},
		{"10 MB prompt", "/v1/completions", `{"model":"a","prompt":"` + strings.Repeat("x", 10<<20) + `"}`, auth, 413, "", "request_too_large"},
		{"negative max_tokens", "/v1/completions", `{"model":"a","prompt":"hi","max_tokens":-1}`, auth, 400, "max_tokens", ""},
		{"max_tokens over the limit", "/v1/completions", `{"model":"a","prompt":"hi","max_tokens":33}`, auth, 400, "max_tokens", ""},
		{"past n_positions", "/v1/completions", `{"model":"a","prompt":"hi","max_tokens":32,"n":1,"temperature":0,"prompt":"` + strings.Repeat("the ", 40) + `"}`, auth, 400, "", "context_length_exceeded"},
		{"NaN temperature", "/v1/completions", `{"model":"a","prompt":"hi","temperature":NaN}`, auth, 400, "", "invalid_json"},
		{"NaN temperature as a string", "/v1/completions", `{"model":"a","prompt":"hi","temperature":"NaN"}`, auth, 400, "", "invalid_json"},
		{"temperature above 2", "/v1/completions", `{"model":"a","prompt":"hi","temperature":2.5}`, auth, 400, "temperature", ""},
		{"top_p 0", "/v1/completions", `{"model":"a","prompt":"hi","top_p":0}`, auth, 400, "top_p", ""},
		{"negative top_k", "/v1/completions", `{"model":"a","prompt":"hi","top_k":-3}`, auth, 400, "top_k", ""},
		{"negative seed", "/v1/completions", `{"model":"a","prompt":"hi","seed":-3}`, auth, 400, "seed", ""},
		{"n 0", "/v1/completions", `{"model":"a","prompt":"hi","n":0}`, auth, 400, "n", ""},
		{"five stops", "/v1/completions", `{"model":"a","prompt":"hi","stop":["a","b","c","d","e"]}`, auth, 400, "stop", ""},
		{"presence penalty", "/v1/completions", `{"model":"a","prompt":"hi","presence_penalty":0.5}`, auth, 400, "presence_penalty", "unsupported_parameter"},
		{"logit bias", "/v1/completions", `{"model":"a","prompt":"hi","logit_bias":{"5":-100}}`, auth, 400, "logit_bias", "unsupported_parameter"},
		{"echo", "/v1/completions", `{"model":"a","prompt":"hi","echo":true}`, auth, 400, "echo", "unsupported_parameter"},
		{"logprobs 9", "/v1/completions", `{"model":"a","prompt":"hi","logprobs":9}`, auth, 400, "logprobs", ""},
		{"no model", "/v1/completions", `{"prompt":"hi"}`, auth, 400, "model", ""},
		{"no prompt", "/v1/completions", `{"model":"a"}`, auth, 400, "prompt", ""},
		{"empty prompt", "/v1/completions", `{"model":"a","prompt":""}`, auth, 400, "prompt", ""},
		{"token outside the vocabulary", "/v1/completions", `{"model":"a","prompt":[1,2,999]}`, auth, 400, "prompt", ""},
		{"chat without messages", "/v1/chat/completions", `{"model":"a","messages":[]}`, auth, 400, "messages", ""},
		{"chat with an unknown role", "/v1/chat/completions", `{"model":"a","messages":[{"role":"robot","content":"hi"}]}`, auth, 400, "messages", ""},
		{"wrong API key", "/v1/completions", good, []string{"Authorization", "Bearer wrong"}, 401, "", "invalid_api_key"},
		{"no API key", "/v1/models", "", nil, 401, "", "invalid_api_key"},
		{"unknown endpoint", "/v1/embeddingz", good, auth, 404, "", "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.post(context.Background(), tc.path, tc.body, tc.header...)
			assert.Equal(t, tc.status, status, "%s", body)
			var e struct {
				Error apiError `json:"error"`
			}
			require.NoError(t, json.Unmarshal(body, &e), "%s", body)
			assert.NotEmpty(t, e.Error.Message)
			assert.NotEmpty(t, e.Error.Type)
			if tc.param != "" {
				require.NotNil(t, e.Error.Param, "%s", body)
				assert.Equal(t, tc.param, *e.Error.Param)
			}
			if tc.code != "" {
				require.NotNil(t, e.Error.Code, "%s", body)
				assert.Equal(t, tc.code, *e.Error.Code)
			}
			status, body = h.post(context.Background(), "/v1/completions", good, auth...)
			assert.Equal(t, http.StatusOK, status, "still serving: %s", body)
		})
	}
	status, _ := h.do(context.Background(), http.MethodGet, "/health", nil)
	assert.Equal(t, http.StatusOK, status, "health needs no key")
}

// TestQueueFull checks 429 with Retry-After when a request does not fit
// the queue (held full), and 400 for one that never could.
func TestQueueFull(t *testing.T) {
	h := newHarness(t, "gpt2", Options{MaxQueue: 1})
	release := h.holdScheduler()
	first := make(chan int, 1)
	go func() {
		status, _ := h.post(context.Background(), "/v1/completions", `{"model":"a","prompt":"hi","max_tokens":2}`)
		first <- status
	}()
	require.Eventually(t, func() bool { return h.srv.Stats().Queued == 1 }, 30*time.Second, time.Millisecond)
	req, err := http.NewRequest(http.MethodPost, h.http.URL+"/v1/completions", strings.NewReader(`{"model":"a","prompt":"hi"}`))
	require.NoError(t, err)
	resp, err := h.http.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	release()
	assert.Equal(t, http.StatusOK, <-first)
	status, body := h.post(context.Background(), "/v1/completions", `{"model":"a","prompt":"hi","n":2}`)
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
	status, body = h.post(context.Background(), "/v1/completions", `{"model":"a","prompt":"hi","max_tokens":2}`)
	assert.Equal(t, http.StatusOK, status, "%s", body)
}

// TestStopsLogprobsChat checks stop sequences, log-probabilities, chat
// completions and their streaming.
func TestStopsLogprobsChat(t *testing.T) {
	h := newHarness(t, "llama", Options{})
	ctx := context.Background()
	want := h.want("a", h.encode("the quick brown fox"), 12, model.SampleOptions{})
	text, err := h.srv.decode(want)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(text), 4, "the greedy continuation %q", text)
	stop := text[2:4]
	for _, stream := range []bool{false, true} {
		status, body := h.post(ctx, "/v1/completions", map[string]any{"model": "a", "prompt": "the quick brown fox", "max_tokens": 12,
			"temperature": 0, "stop": []string{stop, "zzzz"}, "stream": stream, "logprobs": 2})
		require.Equal(t, http.StatusOK, status, "%s", body)
		if stream {
			texts, finish, done := streamed(t, body)
			assert.True(t, done)
			assert.Equal(t, text[:strings.Index(text, stop)], texts[0])
			assert.Equal(t, "stop", finish[0])
			continue
		}
		var got completion
		require.NoError(t, json.Unmarshal(body, &got))
		assert.Equal(t, text[:strings.Index(text, stop)], got.Choices[0].Text)
		assert.Equal(t, "stop", got.Choices[0].FinishReason)
		require.NotNil(t, got.Choices[0].Logprobs)
		n := len(got.Choices[0].TokenIDs)
		assert.Len(t, got.Choices[0].Logprobs.TokenLogprobs, n)
		for _, lp := range got.Choices[0].Logprobs.TokenLogprobs {
			assert.LessOrEqual(t, lp, float32(0))
		}
	}

	msgs := []ChatMessage{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hello"}}
	prompt, err := PlainChat(msgs)
	require.NoError(t, err)
	wantChat, err := h.srv.decode(h.want("b", h.encode(prompt), 6, model.SampleOptions{}))
	require.NoError(t, err)
	for _, stream := range []bool{false, true} {
		status, body := h.post(ctx, "/v1/chat/completions", map[string]any{"model": "b", "messages": msgs, "max_tokens": 6,
			"temperature": 0, "stream": stream})
		require.Equal(t, http.StatusOK, status, "%s", body)
		if stream {
			texts, _, done := streamed(t, body)
			assert.True(t, done)
			assert.Equal(t, wantChat, texts[0])
			continue
		}
		var got completion
		require.NoError(t, json.Unmarshal(body, &got))
		assert.Equal(t, wantChat, got.Choices[0].Message.Content)
	}
}

// TestAdaptersLoadAndDelete loads an adapter while serving, serves it,
// refuses a duplicate and a bad path, deletes it and refuses it after.
func TestAdaptersLoadAndDelete(t *testing.T) {
	h := newHarness(t, "llama", Options{})
	ctx := context.Background()
	dirB := h.dir + "/adapters/b"
	status, body := h.post(ctx, "/v1/adapters", map[string]any{"name": "b2", "path": dirB})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	status, body = h.do(ctx, http.MethodGet, "/v1/models", nil)
	require.Equal(t, http.StatusOK, status)
	var list struct {
		Data []modelObject `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{BaseModelID, "a", "b", "w", "b2"}, ids)

	status, body = h.post(ctx, "/v1/completions", map[string]any{"model": "b2", "prompt": "hello", "max_tokens": 5, "temperature": 0})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var got completion
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, h.want("b", h.encode("hello"), 5, model.SampleOptions{}), got.Choices[0].TokenIDs, "b2 serves b's vectors")

	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"duplicate", map[string]any{"name": "b2", "path": dirB}, http.StatusConflict},
		{"reserved name", map[string]any{"name": BaseModelID, "path": dirB}, http.StatusBadRequest},
		{"missing path", map[string]any{"name": "x", "path": h.dir + "/nothing"}, http.StatusBadRequest},
		{"not an adapter", map[string]any{"name": "x", "path": h.dir + "/base"}, http.StatusBadRequest},
		{"bad JSON", `{"name":`, http.StatusBadRequest},
	} {
		status, body := h.post(ctx, "/v1/adapters", tc.body)
		assert.Equal(t, tc.status, status, "%s: %s", tc.name, body)
	}
	status, body = h.do(ctx, http.MethodDelete, "/v1/adapters/b2", nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	status, _ = h.post(ctx, "/v1/completions", map[string]any{"model": "b2", "prompt": "hello"})
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = h.do(ctx, http.MethodDelete, "/v1/adapters/b2", nil)
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = h.do(ctx, http.MethodDelete, "/v1/adapters/base", nil)
	assert.Equal(t, http.StatusNotFound, status)
}

// TestHealthMetricsShutdown checks /health and /metrics, then that a
// shut-down server answers 503.
func TestHealthMetricsShutdown(t *testing.T) {
	h := newHarness(t, "gpt2", Options{})
	ctx := context.Background()
	status, body := h.post(ctx, "/v1/completions", `{"model":"w","prompt":"hello","max_tokens":4}`)
	require.Equal(t, http.StatusOK, status, "%s", body)
	h.waitDrained()
	status, body = h.do(ctx, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	for _, line := range []string{
		"ia3_queue_depth 0", "ia3_batch_rows 0", "ia3_batch_occupancy 0", "ia3_adapters_loaded 3", `ia3_model_generated_tokens_total{model="w"} 4`,
		`ia3_requests_total{model="w",code="200"} 1`, `ia3_time_to_first_token_seconds_count 1`,
		`ia3_model_time_to_first_token_seconds_count{model="w"} 1`, `ia3_time_to_first_token_seconds_bucket{le="+Inf"} 1`,
	} {
		assert.Contains(t, string(body), line+"\n")
	}
	status, _ = h.do(ctx, http.MethodGet, "/health", nil)
	assert.Equal(t, http.StatusOK, status)
	require.NoError(t, h.srv.Shutdown(ctx))
	status, body = h.post(ctx, "/v1/completions", `{"model":"w","prompt":"hello","max_tokens":4}`)
	assert.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	status, _ = h.do(ctx, http.MethodGet, "/health", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	status, _ = h.post(ctx, "/v1/adapters", map[string]any{"name": "x", "path": h.dir + "/adapters/a"})
	assert.Equal(t, http.StatusServiceUnavailable, status)
}

// TestDeadline checks that a request past its deadline gets 504 and that
// the server serves on.
func TestDeadline(t *testing.T) {
	h := newHarness(t, "gpt2", Options{RequestTimeout: time.Nanosecond})
	status, body := h.post(context.Background(), "/v1/completions", `{"model":"a","prompt":"hello","max_tokens":4}`)
	assert.Equal(t, http.StatusGatewayTimeout, status, "%s", body)
	assert.Contains(t, string(body), `"code":"timeout"`)
	h.waitDrained()
	assert.Zero(t, h.srv.Stats().CacheRows)
}

// TestPrefillBound checks that admission splits a burst into prefills of
// at most MaxPrefillTokens padded tokens, and that the results still
// equal Generate alone.
func TestPrefillBound(t *testing.T) {
	h := newHarness(t, "llama", Options{MaxPrefillTokens: 8})
	prompt := "the quick brown fox"
	n := len(h.encode(prompt))
	require.Greater(t, n, 4, "the prompt is longer than half the bound")
	release := h.holdScheduler()
	st0 := h.srv.Stats()
	var wg sync.WaitGroup
	for _, m := range []string{"a", "b", "w"} {
		wg.Go(func() {
			status, body := h.post(context.Background(), "/v1/completions", map[string]any{"model": m, "prompt": prompt, "max_tokens": 3, "temperature": 0})
			require.Equal(t, http.StatusOK, status, "%s", body)
			var got completion
			require.NoError(t, json.Unmarshal(body, &got))
			assert.Equal(t, h.want(m, h.encode(prompt), 3, model.SampleOptions{}), got.Choices[0].TokenIDs, m)
		})
	}
	require.Eventually(t, func() bool { return h.srv.Stats().Queued == 3 }, 30*time.Second, time.Millisecond)
	release()
	wg.Wait()
	assert.Equal(t, int64(3), h.srv.Stats().PrefillSteps-st0.PrefillSteps, "one prompt per prefill")
}

// TestNewRefuses checks the models and adapters a server cannot serve.
func TestNewRefuses(t *testing.T) {
	t5 := modeltest.NamedCase(t, "t5")
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	defer b.Close()
	m, err := model.Load(context.Background(), filepath.Join(t5.Dir, "base"), b)
	require.NoError(t, err)
	defer m.Free()
	_, err = New(m, nil, fixtureTokenizer(t, t5), Options{})
	assert.ErrorContains(t, err, "not a causal LM")

	c := modeltest.NamedCase(t, "gpt2")
	base, peft := loadFixture(t, c)
	require.NoError(t, peft.Merge(false, "a"))
	_, err = New(base, peft, fixtureTokenizer(t, c), Options{})
	assert.ErrorContains(t, err, "merged into")

	h := newHarness(t, "gpt2", Options{})
	dir := t.TempDir()
	for _, f := range []string{ia3.ConfigFile, ia3.WeightsFile} {
		data, err := os.ReadFile(filepath.Join(c.Dir, "adapters", "a", f))
		require.NoError(t, err)
		if f == ia3.ConfigFile {
			data = []byte(strings.Replace(string(data), `"modules_to_save": null`, `"modules_to_save": ["lm_head"]`, 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	status, body := h.post(context.Background(), "/v1/adapters", map[string]any{"name": "saved", "path": dir})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(body), "modules_to_save")
}

// TestMergedAdapter serves weights with adapter a merged in under the name
// "a", with the adapter API off: the completion equals Generate with a
// active, and only "a" is listed.
func TestMergedAdapter(t *testing.T) {
	h := newHarness(t, "gpt2", Options{})
	c := modeltest.NamedCase(t, "gpt2")
	base, peft := loadFixture(t, c)
	merged, err := peft.MergeAndUnload(false, "a")
	require.NoError(t, err)
	srv, err := New(merged, nil, h.tok, Options{BaseName: "a", NoAdapterAPI: true})
	require.NoError(t, err)
	defer srv.Close()
	require.Same(t, base, merged)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	m := &harness{t: t, srv: srv, http: hs, tok: h.tok}
	ctx := context.Background()

	status, body := m.do(ctx, http.MethodGet, "/v1/models", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), `"id":"a"`)
	assert.NotContains(t, string(body), `"id":"base"`)
	status, body = m.post(ctx, "/v1/completions", map[string]any{"model": "a", "prompt": "the quick brown fox", "max_tokens": 6, "temperature": 0})
	require.Equal(t, http.StatusOK, status, "%s", body)
	var got completion
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, h.want("a", h.encode("the quick brown fox"), 6, model.SampleOptions{}), got.Choices[0].TokenIDs)
	status, _ = m.post(ctx, "/v1/completions", map[string]any{"model": BaseModelID, "prompt": "hi"})
	assert.Equal(t, http.StatusNotFound, status)
	status, body = m.post(ctx, "/v1/adapters", map[string]any{"name": "b", "path": filepath.Join(c.Dir, "adapters", "b")})
	assert.Equal(t, http.StatusForbidden, status, "%s", body)
	status, _ = m.do(ctx, http.MethodDelete, "/v1/adapters/a", nil)
	assert.Equal(t, http.StatusForbidden, status)
}

// TestQueuePurge checks that queued sequences of requests that ended
// (here: past their deadline) give their places to new requests.
func TestQueuePurge(t *testing.T) {
	h := newHarness(t, "gpt2", Options{MaxQueue: 2})
	release := h.holdScheduler()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		status, _ := h.post(ctx, "/v1/completions", `{"model":"a","prompt":"hi","n":2,"max_tokens":2}`)
		done <- status
	}()
	require.Eventually(t, func() bool { return h.srv.Stats().Queued == 2 }, 30*time.Second, time.Millisecond)
	cancel()
	<-done
	// The server has seen the client go once the handler has answered.
	require.Eventually(t, func() bool {
		m := h.srv.m
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.perModel["a"] != nil && m.perModel["a"].requests[499] == 1
	}, 30*time.Second, time.Millisecond)
	assert.Equal(t, 2, h.srv.Stats().Queued, "still queued until purged")
	got := make(chan int, 1)
	go func() {
		status, _ := h.post(context.Background(), "/v1/completions", `{"model":"a","prompt":"hi","n":2,"max_tokens":2}`)
		got <- status
	}()
	require.Eventually(t, func() bool { return h.srv.Stats().Queued == 2 }, 30*time.Second, time.Millisecond, "the new request takes the places")
	release()
	assert.Equal(t, http.StatusOK, <-got)
}

// TestDisconnectCancels checks that a client that goes away mid-stream
// takes its row out of the batch: far fewer tokens are generated than it
// asked for, and the KV cache is empty afterwards.
func TestDisconnectCancels(t *testing.T) {
	h := newHarness(t, "llama", Options{})
	const asked = 500
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.http.URL+"/v1/completions",
		strings.NewReader(fmt.Sprintf(`{"model":"b","prompt":"hello","max_tokens":%d,"stream":true,"temperature":0}`, asked)))
	require.NoError(t, err)
	resp, err := h.http.Client().Do(req)
	require.NoError(t, err)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "data: {"), line)
	release := h.holdScheduler()
	cancel()
	resp.Body.Close()
	m := h.srv.m
	require.Eventually(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.perModel["b"].requests[499] == 1
	}, 30*time.Second, time.Millisecond, "the handler sees the client go")
	release()
	h.waitDrained()
	m.mu.Lock()
	generated := m.perModel["b"].tokens
	m.mu.Unlock()
	assert.Less(t, generated, int64(asked))
	assert.Zero(t, h.srv.Stats().CacheRows)
}

// TestPromptLists checks a completions request with several prompts (as
// strings and as token ids) and n: choice p·n+k continues prompt p with
// seed+k, equal to Generate alone; usage counts every prompt.
func TestPromptLists(t *testing.T) {
	h := newHarness(t, "gpt2", Options{})
	prompts := []string{"hello", "the quick brown fox", "a"}
	ids := make([][]int32, len(prompts))
	total := 0
	for i, p := range prompts {
		ids[i] = h.encode(p)
		total += len(ids[i])
	}
	o := model.SampleOptions{Temperature: 0.9, Seed: 11}
	for name, prompt := range map[string]any{"strings": prompts, "token ids": ids} {
		status, body := h.post(context.Background(), "/v1/completions", map[string]any{"model": "w", "prompt": prompt, "n": 2,
			"max_tokens": 4, "temperature": o.Temperature, "seed": o.Seed})
		require.Equal(t, http.StatusOK, status, "%s: %s", name, body)
		var got completion
		require.NoError(t, json.Unmarshal(body, &got))
		require.Len(t, got.Choices, 6, name)
		for i, ch := range got.Choices {
			so := o
			so.Seed += uint64(i % 2)
			assert.Equal(t, i, ch.Index)
			assert.Equal(t, h.want("w", ids[i/2], 4, so), ch.TokenIDs, "%s choice %d", name, i)
		}
		assert.Equal(t, total, got.Usage.PromptTokens)
		assert.Equal(t, 24, got.Usage.CompletionTokens)
	}
	status, body := h.post(context.Background(), "/v1/completions", map[string]any{"model": "w", "prompt": []any{"a", 3}})
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
}

// TestFirstAdapterThroughAPI starts a server without adapters and loads
// the first one through the API: it is attached to the base model and
// serves as Generate with it active does, beside the base model.
func TestFirstAdapterThroughAPI(t *testing.T) {
	h := newHarness(t, "llama", Options{})
	c := modeltest.NamedCase(t, "llama")
	b := openCPU(t)
	base, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	srv, err := New(base, nil, h.tok, Options{})
	require.NoError(t, err)
	defer srv.Close()
	assert.Nil(t, srv.PEFT())
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	m := &harness{t: t, srv: srv, http: hs, tok: h.tok}
	ctx := context.Background()
	status, body := m.post(ctx, "/v1/adapters", map[string]any{"path": filepath.Join(c.Dir, "adapters", "b")})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	assert.Contains(t, string(body), `"id":"b"`, "named after the directory")
	require.NotNil(t, srv.PEFT())
	for _, id := range []string{"b", BaseModelID} {
		status, body = m.post(ctx, "/v1/completions", map[string]any{"model": id, "prompt": "hello", "max_tokens": 5, "temperature": 0})
		require.Equal(t, http.StatusOK, status, "%s", body)
		var got completion
		require.NoError(t, json.Unmarshal(body, &got))
		assert.Equal(t, h.want(id, h.encode("hello"), 5, model.SampleOptions{}), got.Choices[0].TokenIDs, id)
	}
	assert.NoError(t, srv.PEFT().Close())
}

// TestTokensPerSecond checks the tokens/s gauge's window arithmetic.
func TestTokensPerSecond(t *testing.T) {
	m := newMetrics()
	now := time.Unix(1000, 0)
	for sec, n := range map[int64]int64{991: 10, 995: 20, 999: 7, 1000: 99} {
		m.recentSecs[sec%rateWindow], m.recent[sec%rateWindow] = sec, n
	}
	assert.InDelta(t, (10.0+20+7)/rateWindow, m.tokensPerSecond(now), 1e-9, "the running second 1000 is left out")
	assert.InDelta(t, 0, m.tokensPerSecond(time.Unix(2000, 0)), 1e-9, "old seconds are left out")
}

// TestChatTemplate checks chat completions rendered with a chat template:
// the prompt is the template's text with the generation prompt, tokenized
// without added special tokens, and the template's eos_token ends the
// reply, as `ia3 generate --chat` does.
func TestChatTemplate(t *testing.T) {
	c := modeltest.NamedCase(t, "llama")
	tok := fixtureTokenizer(t, c)
	// The fixture tokenizer names no EOS token: the template's is a
	// plain vocabulary entry.
	eosText, ok := tok.IDToToken(5)
	require.True(t, ok)
	src := "{% for m in messages %}<{{ m.role }}> {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
	tmpl, err := chat.New(src, map[string]string{"eos_token": eosText})
	require.NoError(t, err)
	h := newHarness(t, "llama", Options{ChatTemplate: tmpl})
	msgs := []ChatMessage{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hello there"}}
	text := "<system> be brief\n<user> hello there\n<assistant>"
	enc, err := tok.EncodeNoSpecial(text)
	require.NoError(t, err)
	ids := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	eos := append(slices.Clone(h.srv.eos), 5)
	for _, o := range []model.SampleOptions{{}, {Temperature: 0.8, Seed: 3}} {
		want, err := h.srv.decode(h.wantEOS(eos, "a", ids, 8, o))
		require.NoError(t, err)
		status, body := h.post(context.Background(), "/v1/chat/completions", map[string]any{"model": "a", "messages": msgs,
			"max_tokens": 8, "temperature": o.Temperature, "seed": o.Seed})
		require.Equal(t, http.StatusOK, status, "%s", body)
		var got completion
		require.NoError(t, json.Unmarshal(body, &got))
		assert.Equal(t, want, got.Choices[0].Message.Content, "%+v", o)
		assert.Equal(t, len(ids), got.Usage.PromptTokens)
	}
}
