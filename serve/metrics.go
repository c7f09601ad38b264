package serve

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// ttftBuckets are the upper bounds, in seconds, of the time-to-first-token
// histogram.
var ttftBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics counts what /metrics reports; it is safe for concurrent use.
type metrics struct {
	mu                        sync.Mutex
	queue, rows, cacheRows    int
	decodeSteps, prefillSteps int64
	tokens                    int64
	perModel                  map[string]*modelMetrics
	ttftCounts                []int64 // per bucket, not cumulative; last is +Inf
	ttftSum                   float64
	ttftN                     int64
	// recent counts the tokens of each of the last rateWindow seconds,
	// by unix second modulo rateWindow, with the second each slot holds.
	recent     [rateWindow]int64
	recentSecs [rateWindow]int64
}

// rateWindow is the number of seconds the tokens/s gauge averages over.
const rateWindow = 10

// modelMetrics are one model id's counters.
type modelMetrics struct {
	tokens, promptTokens int64
	requests             map[int]int64 // by HTTP status
	ttftSum              float64
	ttftN                int64
}

// newMetrics returns zeroed metrics.
func newMetrics() *metrics {
	return &metrics{perModel: map[string]*modelMetrics{}, ttftCounts: make([]int64, len(ttftBuckets)+1)}
}

// of returns id's counters, creating them; m.mu must be held.
func (m *metrics) of(id string) *modelMetrics {
	mm := m.perModel[id]
	if mm == nil {
		mm = &modelMetrics{requests: map[int]int64{}}
		m.perModel[id] = mm
	}
	return mm
}

func (m *metrics) setQueue(n int) { m.mu.Lock(); m.queue = n; m.mu.Unlock() }
func (m *metrics) decode()        { m.mu.Lock(); m.decodeSteps++; m.mu.Unlock() }
func (m *metrics) prefill()       { m.mu.Lock(); m.prefillSteps++; m.mu.Unlock() }

// setRows records the decoding rows and the KV cache's rows.
func (m *metrics) setRows(rows, cacheRows int) {
	m.mu.Lock()
	m.rows, m.cacheRows = rows, cacheRows
	m.mu.Unlock()
}

// token counts one generated token of model id.
func (m *metrics) token(id string) {
	m.mu.Lock()
	m.tokens++
	m.of(id).tokens++
	sec := time.Now().Unix()
	i := sec % rateWindow
	if m.recentSecs[i] != sec {
		m.recentSecs[i], m.recent[i] = sec, 0
	}
	m.recent[i]++
	m.mu.Unlock()
}

// tokensPerSecond averages the tokens of the last rateWindow whole
// seconds; m.mu must be held.
func (m *metrics) tokensPerSecond(now time.Time) float64 {
	sec := now.Unix()
	var n int64
	for i, s := range m.recentSecs {
		if s < sec && s >= sec-rateWindow {
			n += m.recent[i]
		}
	}
	return float64(n) / rateWindow
}

// firstToken records a sequence's time to first token.
func (m *metrics) firstToken(id string, d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	i, _ := slices.BinarySearch(ttftBuckets, sec)
	m.ttftCounts[i]++
	m.ttftSum += sec
	m.ttftN++
	mm := m.of(id)
	mm.ttftSum += sec
	mm.ttftN++
}

// request counts one finished request of model id with its status and
// prompt tokens.
func (m *metrics) request(id string, status, promptTokens int) {
	m.mu.Lock()
	mm := m.of(id)
	mm.requests[status]++
	mm.promptTokens += int64(promptTokens)
	m.mu.Unlock()
}

// snapshot returns the scheduler counters as Stats (Queued left 0).
func (m *metrics) snapshot() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Rows: m.rows, CacheRows: m.cacheRows, DecodeSteps: m.decodeSteps, PrefillSteps: m.prefillSteps, Tokens: m.tokens}
}

// write prints the metrics in Prometheus' text exposition format.
func (m *metrics) write(w io.Writer, maxBatch, maxQueue, adapters int, uptime time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	gauge := func(name, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	counter := func(name, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %v\n", name, help, name, name, v)
	}
	gauge("ia3_queue_depth", "Sequences waiting for a batch row.", m.queue)
	gauge("ia3_queue_capacity", "Most sequences that may wait.", maxQueue)
	gauge("ia3_batch_rows", "Sequences decoding in the running batch.", m.rows)
	gauge("ia3_batch_capacity", "Most sequences that decode at once.", maxBatch)
	gauge("ia3_kv_cache_rows", "Rows held by the KV cache.", m.cacheRows)
	gauge("ia3_adapters_loaded", "Adapters the server can serve.", adapters)
	gauge("ia3_uptime_seconds", "Seconds since the server started.", uptime.Seconds())
	gauge("ia3_batch_occupancy", "Decoding rows over the batch capacity.", float64(m.rows)/float64(maxBatch))
	gauge("ia3_generated_tokens_per_second", fmt.Sprintf("Tokens generated per second over the last %d whole seconds.", rateWindow),
		m.tokensPerSecond(time.Now()))
	counter("ia3_decode_steps_total", "Batched decoding steps run.", m.decodeSteps)
	counter("ia3_prefill_steps_total", "Batched prompt (prefill) passes run.", m.prefillSteps)
	counter("ia3_generated_tokens_total", "Tokens generated, all models.", m.tokens)

	ids := slices.Sorted(maps.Keys(m.perModel))
	fmt.Fprintf(&b, "# HELP ia3_model_generated_tokens_total Tokens generated per model id.\n# TYPE ia3_model_generated_tokens_total counter\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "ia3_model_generated_tokens_total{model=%q} %d\n", id, m.perModel[id].tokens)
	}
	fmt.Fprintf(&b, "# HELP ia3_model_prompt_tokens_total Prompt tokens read per model id.\n# TYPE ia3_model_prompt_tokens_total counter\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "ia3_model_prompt_tokens_total{model=%q} %d\n", id, m.perModel[id].promptTokens)
	}
	fmt.Fprintf(&b, "# HELP ia3_requests_total Requests answered per model id and HTTP status.\n# TYPE ia3_requests_total counter\n")
	for _, id := range ids {
		codes := slices.Sorted(maps.Keys(m.perModel[id].requests))
		for _, c := range codes {
			fmt.Fprintf(&b, "ia3_requests_total{model=%q,code=\"%d\"} %d\n", id, c, m.perModel[id].requests[c])
		}
	}
	fmt.Fprintf(&b, "# HELP ia3_model_time_to_first_token_seconds Time from arrival to first token per model id.\n# TYPE ia3_model_time_to_first_token_seconds summary\n")
	for _, id := range ids {
		mm := m.perModel[id]
		fmt.Fprintf(&b, "ia3_model_time_to_first_token_seconds_sum{model=%q} %g\nia3_model_time_to_first_token_seconds_count{model=%q} %d\n",
			id, mm.ttftSum, id, mm.ttftN)
	}
	fmt.Fprintf(&b, "# HELP ia3_time_to_first_token_seconds Time from arrival to first token.\n# TYPE ia3_time_to_first_token_seconds histogram\n")
	var cum int64
	for i, le := range ttftBuckets {
		cum += m.ttftCounts[i]
		fmt.Fprintf(&b, "ia3_time_to_first_token_seconds_bucket{le=\"%g\"} %d\n", le, cum)
	}
	cum += m.ttftCounts[len(ttftBuckets)]
	fmt.Fprintf(&b, "ia3_time_to_first_token_seconds_bucket{le=\"+Inf\"} %d\nia3_time_to_first_token_seconds_sum %g\nia3_time_to_first_token_seconds_count %d\n",
		cum, m.ttftSum, m.ttftN)
	_, err := io.WriteString(w, b.String())
	return err
}
