package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// LoadOptions configures Load: Clients concurrent clients each send
// Requests streamed completions one after another, cycling through Models
// and Prompts.
type LoadOptions struct {
	// URL is the server's base address, e.g. http://127.0.0.1:8080.
	URL string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Clients and Requests (per client) default to 1.
	Clients, Requests int
	// Models are the model ids to cycle through (default: "base").
	Models []string
	// Prompts are the prompts to cycle through (default: one sentence).
	Prompts []string
	// MaxTokens per request (default 16); Temperature 0 decodes greedily.
	MaxTokens   int
	Temperature float64
	// Client sends the requests (default: a client without timeout).
	Client *http.Client
}

// LoadReport summarises a Load run.
type LoadReport struct {
	Clients, Requests, Errors int
	// FirstError is the first failure's message, if any.
	FirstError string
	// Tokens counts generated tokens (the servers' usage figures).
	Tokens int
	Wall   time.Duration
	// TokensPerSecond and RequestsPerSecond are over Wall.
	TokensPerSecond, RequestsPerSecond float64
	// TTFT is the time to the first streamed token, Latency to the end of
	// the response, as 50th, 90th and 99th percentiles.
	TTFT, Latency Percentiles
}

// Percentiles are the 50th, 90th and 99th percentiles of durations.
type Percentiles struct {
	P50, P90, P99 time.Duration
}

// String prints the percentiles in milliseconds.
func (p Percentiles) String() string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms", ms(p.P50), ms(p.P90), ms(p.P99))
}

// percentiles computes Percentiles of ds (sorted in place).
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99)}
}

// Load drives an OpenAI-compatible server (ia3 serve or another) with
// concurrent streamed completions and measures throughput, time to first
// token and latency. Failed requests are counted, not returned; the error
// is for bad options or a cancelled ctx.
func Load(ctx context.Context, o LoadOptions) (LoadReport, error) {
	if o.URL == "" {
		return LoadReport{}, errors.New("serve.Load: no server URL")
	}
	o.Clients, o.Requests, o.MaxTokens = max(o.Clients, 1), max(o.Requests, 1), cmpOr(o.MaxTokens, 16)
	if len(o.Models) == 0 {
		o.Models = []string{BaseModelID}
	}
	if len(o.Prompts) == 0 {
		o.Prompts = []string{"The quick brown fox jumps over the lazy dog"}
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	var mu sync.Mutex
	rep := LoadReport{Clients: o.Clients}
	var ttfts, lats []time.Duration
	record := func(tokens int, ttft, lat time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		rep.Requests++
		if err != nil {
			rep.Errors++
			if rep.FirstError == "" {
				rep.FirstError = err.Error()
			}
			return
		}
		rep.Tokens += tokens
		ttfts = append(ttfts, ttft)
		lats = append(lats, lat)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for c := range o.Clients {
		wg.Go(func() {
			for r := range o.Requests {
				if ctx.Err() != nil {
					return
				}
				i := c*o.Requests + r
				body := map[string]any{"model": o.Models[i%len(o.Models)], "prompt": o.Prompts[i%len(o.Prompts)],
					"max_tokens": o.MaxTokens, "temperature": o.Temperature, "seed": i, "stream": true,
					"stream_options": map[string]any{"include_usage": true}}
				record(streamOne(ctx, o, body))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("serve.Load: %w", err)
	}
	rep.Wall = time.Since(start)
	rep.TTFT, rep.Latency = percentiles(ttfts), percentiles(lats)
	if s := rep.Wall.Seconds(); s > 0 {
		rep.TokensPerSecond = float64(rep.Tokens) / s
		rep.RequestsPerSecond = float64(rep.Requests-rep.Errors) / s
	}
	return rep, nil
}

// cmpOr returns v, or d when v is not positive.
func cmpOr(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// streamOne sends one streamed completion and returns its generated
// tokens (from usage), time to first token and latency.
func streamOne(ctx context.Context, o LoadOptions, body map[string]any) (int, time.Duration, time.Duration, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(o.URL, "/")+"/v1/completions", bytes.NewReader(data))
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, 0, 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	var ttft time.Duration
	tokens := 0
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var ev struct {
			Choices []json.RawMessage `json:"choices"`
			Usage   *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
			Error *apiError `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return 0, 0, 0, fmt.Errorf("bad event %q: %w", line, err)
		}
		if ev.Error != nil {
			return 0, 0, 0, fmt.Errorf("stream error: %s", ev.Error.Message)
		}
		if ttft == 0 && len(ev.Choices) > 0 {
			ttft = time.Since(start)
		}
		if ev.Usage != nil {
			tokens = ev.Usage.CompletionTokens
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	if !done {
		return 0, 0, 0, errors.New("stream ended without data: [DONE]")
	}
	return tokens, ttft, time.Since(start), nil
}
