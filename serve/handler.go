package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ia3/ia3/model"
)

// Handler returns the HTTP API: GET /v1/models, POST /v1/completions,
// POST /v1/chat/completions, POST /v1/adapters, DELETE
// /v1/adapters/{name}, GET /health and GET /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("GET /v1/models/{id}", s.handleModel)
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.handleCompletion(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.handleCompletion(w, r, true) })
	mux.HandleFunc("POST /v1/adapters", s.handleLoadAdapter)
	mux.HandleFunc("DELETE /v1/adapters/{name}", s.handleDeleteAdapter)
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newAPIError(http.StatusNotFound, "invalid_request_error", "", "not_found", "no endpoint %s %s", r.Method, r.URL.Path))
	})
	return s.authorize(mux)
}

// authorize requires the bearer token on every path but /health when the
// server has an API key.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.o.APIKey == "" {
		return next
	}
	want := []byte("Bearer " + s.o.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, newAPIError(http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key",
				"missing or wrong API key: send Authorization: Bearer KEY"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// modelObject is one entry of /v1/models.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelObject(id string) modelObject {
	return modelObject{ID: id, Object: "model", Created: s.start.Unix(), OwnedBy: "ia3"}
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	var data []modelObject
	for _, id := range s.Models() {
		data = append(data, s.modelObject(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.hasModel(id) {
		writeError(w, newAPIError(http.StatusNotFound, "invalid_request_error", "model", "model_not_found", "the model %q does not exist", id))
		return
	}
	writeJSON(w, http.StatusOK, s.modelObject(id))
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	st := s.Stats()
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	status, code := "ok", http.StatusOK
	if closing {
		status, code = "shutting down", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "models": len(s.Models()), "queued": st.Queued, "decoding": st.Rows})
}

func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_ = s.m.write(w, s.o.MaxBatch, s.o.MaxQueue, len(s.Models())-1, time.Since(s.start))
}

// choiceState follows one choice's tokens and text.
type choiceState struct {
	ids     []int32
	text    string // decoded so far, cut at a stop sequence
	sent    string // the text already streamed
	finish  string
	lps     []tokenLogprob
	tops    [][]tokenLogprob
	cancel  context.CancelFunc
	stopped bool
}

// handleCompletion serves /v1/completions and /v1/chat/completions.
func (s *Server) handleCompletion(w http.ResponseWriter, r *http.Request, chat bool) {
	start := time.Now()
	req, apiErr := s.decodeRequest(w, r, chat)
	if apiErr != nil {
		s.m.request("", apiErr.status, 0) // refused before its model was known to exist
		s.o.Logger.Info("serve: request refused", "path", r.URL.Path, "status", apiErr.status, "error", apiErr.Message)
		writeError(w, apiErr)
		return
	}
	status := s.complete(w, r, req)
	s.m.request(req.model, status, req.promptTokens())
	s.o.Logger.Info("serve: request", "path", r.URL.Path, "model", req.model, "status", status, "prompts", len(req.prompts),
		"prompt_tokens", req.promptTokens(), "n", req.n, "stream", req.stream, "elapsed", time.Since(start))
}

// complete queues the request's choices and answers them, streamed or
// whole; it returns the HTTP status sent.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, req *request) int {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.RequestTimeout)
	defer cancel()
	choices := req.n * len(req.prompts)
	seqs := make([]*seq, choices)
	states := make([]*choiceState, choices)
	for i := range seqs {
		o := req.sample
		o.Seed += uint64(i % req.n) // choice k of a prompt samples with seed+k
		sampler, err := model.NewSampler(o)
		if err != nil {
			writeError(w, badRequest("", "", "%v", err))
			return http.StatusBadRequest
		}
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		seqs[i] = s.newSeq(cctx, req.model, req.prompts[i/req.n], req.eos, req.maxTokens, sampler, req.logprobs)
		states[i] = &choiceState{cancel: ccancel}
	}
	if err := s.enqueue(seqs); err != nil {
		if errors.Is(err, errQueueFull) {
			w.Header().Set("Retry-After", "1")
			writeError(w, newAPIError(http.StatusTooManyRequests, "rate_limit_error", "", "queue_full", "%v", err))
			return http.StatusTooManyRequests
		}
		writeError(w, newAPIError(http.StatusServiceUnavailable, "server_error", "", "shutting_down", "%v", err))
		return http.StatusServiceUnavailable
	}
	id := newID(req.chat)
	created := time.Now().Unix()
	var sse *sseWriter
	if req.stream {
		sse = newSSE(w)
	}
	merged := mergeEvents(ctx, seqs)
	left := choices
	for left > 0 {
		var me indexedEvent
		select {
		case me = <-merged:
		case <-ctx.Done():
			return s.endWithError(w, sse, ctx.Err())
		}
		st := states[me.i]
		if st.finish != "" {
			continue // after a stop sequence, until the row leaves the batch
		}
		if me.ev.err != nil {
			return s.endWithError(w, sse, me.ev.err)
		}
		if err := s.advance(st, me.ev, req); err != nil {
			return s.endWithError(w, sse, err)
		}
		if st.finish != "" {
			left--
			if st.stopped {
				st.cancel() // the row leaves the batch at the next step
			}
		}
		if sse != nil {
			if err := sse.send(s.chunk(id, created, req, me.i, st)); err != nil {
				return http.StatusOK // the client went away; ctx ends the rows
			}
		}
	}
	usage := s.usage(req, states)
	if sse != nil {
		if req.includeUsage {
			_ = sse.send(map[string]any{"id": id, "object": chunkObject(req.chat), "created": created, "model": req.model,
				"choices": []any{}, "usage": usage})
		}
		_ = sse.done()
		return http.StatusOK
	}
	all := make([]any, choices)
	for i, st := range states {
		all[i] = s.choice(req, i, st)
	}
	object := "text_completion"
	if req.chat {
		object = "chat.completion"
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": object, "created": created, "model": req.model,
		"choices": all, "usage": usage})
	return http.StatusOK
}

// advance adds one token to a choice: its text, a stop sequence, its
// finish reason and log-probabilities.
func (s *Server) advance(st *choiceState, ev event, req *request) error {
	st.ids = append(st.ids, ev.tok)
	if req.logprobs >= 0 {
		st.lps = append(st.lps, tokenLogprob{ev.tok, ev.logprob})
		st.tops = append(st.tops, ev.top)
	}
	text, err := s.decode(st.ids)
	if err != nil {
		return err
	}
	st.text = text
	st.finish = ev.finish
	if i := stopIndex(text, req.stop); i >= 0 {
		st.text = text[:i]
		st.finish = "stop"
		st.stopped = true
	}
	return nil
}

// decode turns generated ids into text without special tokens; ids past
// the tokenizer's vocabulary have no text.
func (s *Server) decode(ids []int32) (string, error) {
	known := make([]int, 0, len(ids))
	for _, id := range ids {
		if _, ok := s.tok.IDToToken(int(id)); ok {
			known = append(known, int(id))
		}
	}
	t, err := s.tok.Decode(known, true)
	if err != nil {
		return "", fmt.Errorf("decode tokens: %w", err)
	}
	return t, nil
}

// streamable returns the text of st that can be sent now: all of it once
// finished, else without an incomplete UTF-8 sequence and without a tail
// that could begin a stop sequence.
func streamable(st *choiceState, stops []string) string {
	if st.finish != "" {
		return st.text
	}
	t := st.text
	if strings.HasSuffix(t, string(utf8.RuneError)) {
		return st.sent
	}
	hold := 0
	for _, s := range stops {
		for k := min(len(s)-1, len(t)); k > hold; k-- {
			if strings.HasSuffix(t, s[:k]) {
				hold = k
				break
			}
		}
	}
	return t[:len(t)-hold]
}

// chunk is one streamed event for choice i.
func (s *Server) chunk(id string, created int64, req *request, i int, st *choiceState) map[string]any {
	// Decoding more tokens can change the text before them (a merged
	// character); what was sent stays, and the stream resumes once the
	// text extends it again.
	text := streamable(st, req.stop)
	delta := ""
	if strings.HasPrefix(text, st.sent) {
		delta = text[len(st.sent):]
		st.sent = text
	}
	var finish any
	if st.finish != "" {
		finish = st.finish
	}
	c := map[string]any{"index": i, "finish_reason": finish}
	if req.chat {
		d := map[string]any{"content": delta}
		if len(st.ids) == 1 {
			d["role"] = "assistant"
		}
		c["delta"] = d
	} else {
		c["text"] = delta
	}
	if req.logprobs >= 0 {
		n := len(st.lps)
		c["logprobs"] = s.logprobsJSON(req, st.lps[n-1:], st.tops[n-1:])
	}
	return map[string]any{"id": id, "object": chunkObject(req.chat), "created": created, "model": req.model, "choices": []any{c}}
}

// chunkObject is the object name of a streamed chunk.
func chunkObject(chat bool) string {
	if chat {
		return "chat.completion.chunk"
	}
	return "text_completion"
}

// choice is choice i of a whole response.
func (s *Server) choice(req *request, i int, st *choiceState) map[string]any {
	c := map[string]any{"index": i, "finish_reason": st.finish, "token_ids": st.ids}
	if req.chat {
		c["message"] = map[string]any{"role": "assistant", "content": st.text}
	} else {
		c["text"] = st.text
	}
	c["logprobs"] = nil
	if req.logprobs >= 0 {
		c["logprobs"] = s.logprobsJSON(req, st.lps, st.tops)
	}
	return c
}

// logprobsJSON renders log-probabilities in the completions shape
// (tokens, token_logprobs, top_logprobs) or the chat shape (content).
func (s *Server) logprobsJSON(req *request, lps []tokenLogprob, tops [][]tokenLogprob) any {
	tokText := func(id int32) string {
		t, _ := s.decode([]int32{id})
		return t
	}
	if req.chat {
		content := make([]any, len(lps))
		for i, lp := range lps {
			alts := make([]any, len(tops[i]))
			for j, a := range tops[i] {
				alts[j] = map[string]any{"token": tokText(a.id), "logprob": a.logprob, "bytes": []byte(tokText(a.id))}
			}
			content[i] = map[string]any{"token": tokText(lp.id), "logprob": lp.logprob, "bytes": []byte(tokText(lp.id)), "top_logprobs": alts}
		}
		return map[string]any{"content": content}
	}
	tokens := make([]string, len(lps))
	values := make([]float32, len(lps))
	topMaps := make([]map[string]float32, len(lps))
	for i, lp := range lps {
		tokens[i], values[i] = tokText(lp.id), lp.logprob
		topMaps[i] = map[string]float32{}
		for _, a := range tops[i] {
			topMaps[i][tokText(a.id)] = a.logprob
		}
	}
	return map[string]any{"tokens": tokens, "token_logprobs": values, "top_logprobs": topMaps}
}

// usage counts the prompt once and every choice's tokens.
func (s *Server) usage(req *request, states []*choiceState) map[string]int {
	gen := 0
	for _, st := range states {
		gen += len(st.ids)
	}
	p := req.promptTokens()
	return map[string]int{"prompt_tokens": p, "completion_tokens": gen, "total_tokens": p + gen}
}

// endWithError answers a request that failed after it was queued.
func (s *Server) endWithError(w http.ResponseWriter, sse *sseWriter, err error) int {
	var e *apiError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e = newAPIError(http.StatusGatewayTimeout, "timeout_error", "", "timeout", "the request took longer than %v", s.o.RequestTimeout)
	case errors.Is(err, context.Canceled):
		e = newAPIError(499, "invalid_request_error", "", "cancelled", "the request was cancelled")
	case errors.Is(err, errShuttingDown):
		e = newAPIError(http.StatusServiceUnavailable, "server_error", "", "shutting_down", "%v", err)
	default:
		e = newAPIError(http.StatusInternalServerError, "server_error", "", "", "%v", err)
	}
	if sse != nil {
		_ = sse.send(map[string]any{"error": e})
		_ = sse.done()
		return e.status
	}
	writeError(w, e)
	return e.status
}

// indexedEvent is an event of choice i.
type indexedEvent struct {
	i  int
	ev event
}

// mergeEvents forwards the events of every sequence into one channel,
// large enough that no forwarder waits; the forwarders end with their
// sequence or ctx.
func mergeEvents(ctx context.Context, seqs []*seq) <-chan indexedEvent {
	size := 0
	for _, q := range seqs {
		size += cap(q.out)
	}
	out := make(chan indexedEvent, size)
	for i, q := range seqs {
		go func() {
			for {
				select {
				case ev := <-q.out:
					out <- indexedEvent{i, ev}
					if ev.err != nil || ev.finish != "" {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return out
}

// newID returns a fresh response id.
func newID(chat bool) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	if chat {
		return "chatcmpl-" + hex.EncodeToString(b[:])
	}
	return "cmpl-" + hex.EncodeToString(b[:])
}

// sseWriter writes server-sent events.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

// newSSE starts an event stream.
func newSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sseWriter{w: w, f: f}
}

// send writes one data event.
func (e *sseWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	if e.f != nil {
		e.f.Flush()
	}
	return nil
}

// done writes the final data: [DONE].
func (e *sseWriter) done() error {
	_, err := fmt.Fprint(e.w, "data: [DONE]\n\n")
	if e.f != nil {
		e.f.Flush()
	}
	return err
}
