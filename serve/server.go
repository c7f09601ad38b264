// Package serve puts one base model and its (IA)³ adapters behind an
// OpenAI-compatible HTTP API with continuous batching: requests for any
// adapter, or the base model, join the running decoding batch between
// steps, each row with its own adapter, KV cache row and sampling state,
// and leave it when done, cancelled or past their deadline.
//
// One scheduler goroutine owns the model and the cache; handlers tokenize,
// queue their sequences (bounded: 429 with Retry-After when full) and turn
// the tokens the scheduler sends back into OpenAI responses or server-sent
// events. Every completion equals what model.Generate (and `ia3 generate`)
// gives its prompt with that adapter alone, greedy or sampled with the
// same seed.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/chat"
	"github.com/ia3/ia3/model/tokenizer"
)

// BaseModelID is the model id that selects the base model without adapter.
const BaseModelID = "base"

// ChatMessage is one message of a chat completion request.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Options bounds and configures a Server; zero fields take the defaults
// listed.
type Options struct {
	// MaxQueue bounds the sequences waiting for a batch row (default 256);
	// a request that does not fit gets 429 with Retry-After.
	MaxQueue int
	// MaxBatch bounds the sequences decoding at once (default 32).
	MaxBatch int
	// MaxPromptTokens bounds a prompt (default 2048).
	MaxPromptTokens int
	// MaxTokens bounds max_tokens and is the default for chat requests
	// without one (default 512).
	MaxTokens int
	// MaxPrefillTokens bounds the padded tokens (rows × longest prompt) of
	// one batched prefill (default 4096; one prompt is always admitted).
	MaxPrefillTokens int
	// MaxN bounds a request's n (default 8).
	MaxN int
	// MaxBodyBytes bounds a request body (default 1 MiB); a larger body
	// gets 413.
	MaxBodyBytes int64
	// RequestTimeout bounds a request from arrival to its last token
	// (default 5 minutes); a request past it is dropped from the batch.
	RequestTimeout time.Duration
	// APIKey, when set, is the bearer token every endpoint but /health
	// requires.
	APIKey string
	// ChatTemplate, when set, renders chat completions as transformers'
	// apply_chat_template(add_generation_prompt=True) and `ia3 generate
	// --chat` do: tokenized without added special tokens, and ending at
	// the template's eos_token too.
	ChatTemplate *chat.Template
	// RenderChat, used without ChatTemplate, turns chat messages into
	// prompt text tokenized as a completions prompt (PlainChat is one).
	// With neither, chat completions get 400.
	RenderChat func(messages []ChatMessage) (string, error)
	// EOS lists the token ids that end a sequence; nil takes the model
	// config's eos_token_id, else the tokenizer's EOS token, as
	// `ia3 generate` does.
	EOS []int32
	// BaseName is the model id of the base model (default BaseModelID).
	// A server over weights with one adapter merged in (the fastest way
	// to serve a single hot adapter) names it after that adapter.
	BaseName string
	// NoAdapterAPI refuses POST /v1/adapters and DELETE /v1/adapters
	// (403): the adapters are fixed at start.
	NoAdapterAPI bool
	// Logger receives request and adapter events (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxQueue, 256)
	def(&o.MaxBatch, 32)
	def(&o.MaxPromptTokens, 2048)
	def(&o.MaxTokens, 512)
	def(&o.MaxN, 8)
	def(&o.MaxPrefillTokens, 4096)
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Minute
	}
	if o.BaseName == "" {
		o.BaseName = BaseModelID
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server serves one base model and its adapters. Create it with New, mount
// Handler, and call Shutdown (or Close) when done.
type Server struct {
	o    Options
	base *model.Model
	tok  *tokenizer.Tokenizer
	eos  []int32
	// chatEOS is eos plus the chat template's eos_token.
	chatEOS []int32
	pad     int32
	start   time.Time

	// mu guards the fields below it.
	mu       sync.Mutex
	peft     *ia3.Model // nil until an adapter is loaded
	adapters []string   // loaded adapter names, in load order
	queue    []*seq
	closing  bool
	// wake (capacity 1) tells the scheduler that the queue or control
	// list changed.
	wake    chan struct{}
	control []func()

	stop chan struct{} // closed by Close: the scheduler returns
	done chan struct{} // closed when the scheduler has returned
	m    *metrics
	// sched is owned by the scheduler goroutine.
	sched *scheduler
}

// New starts a server for base, a causal LM, with tok its tokenizer and
// peft (nil for none) the adapters already attached to base. The server
// owns base and peft from now on: only its scheduler goroutine runs them
// until Close returns.
func New(base *model.Model, peft *ia3.Model, tok *tokenizer.Tokenizer, o Options) (*Server, error) {
	if base == nil || tok == nil {
		return nil, errors.New("serve.New: need a model and its tokenizer")
	}
	if base.Config().TaskType != model.TaskCausalLM {
		return nil, fmt.Errorf("serve.New: %s (%s) is not a causal LM; the server continues text with decoder-only models",
			base.Config().Architecture, base.Config().TaskType)
	}
	o = o.withDefaults()
	eos := o.EOS
	if eos == nil {
		var err error
		if eos, err = model.EOSTokenIDs(base.Config()); err != nil {
			return nil, fmt.Errorf("serve.New: %w", err)
		}
		if t, ok := tok.EOS(); ok && len(eos) == 0 {
			eos = []int32{int32(t.ID)}
		}
	}
	chatEOS := eos
	if o.ChatTemplate != nil {
		if t, ok := o.ChatTemplate.Token("eos_token"); ok {
			if id, ok := tok.TokenToID(t); ok && !slices.Contains(eos, int32(id)) {
				chatEOS = append(slices.Clone(eos), int32(id))
			}
		}
	}
	s := &Server{o: o, base: base, tok: tok, eos: eos, chatEOS: chatEOS, pad: base.PadID(eos), start: time.Now(), peft: peft,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), m: newMetrics()}
	if err := checkName(o.BaseName, ""); err != nil {
		return nil, fmt.Errorf("serve.New: base name: %w", err)
	}
	if peft != nil {
		for _, l := range peft.Layers() {
			if len(l.Merged()) > 0 {
				return nil, fmt.Errorf("serve.New: adapters %v are merged into %s; a mixed-adapter batch needs them unmerged", l.Merged(), l.Name)
			}
		}
		for _, name := range peft.Adapters() {
			if err := s.checkServable(name, peft.Config(name)); err != nil {
				return nil, fmt.Errorf("serve.New: %w", err)
			}
			s.adapters = append(s.adapters, name)
		}
	}
	sc, err := newScheduler(s)
	if err != nil {
		return nil, fmt.Errorf("serve.New: %w", err)
	}
	s.sched = sc
	go sc.run()
	return s, nil
}

// checkServable refuses adapter names the API cannot address and adapters
// a mixed batch cannot run.
func (s *Server) checkServable(name string, cfg *ia3.Config) error {
	if err := checkName(name, s.o.BaseName); err != nil {
		return fmt.Errorf("adapter name: %w", err)
	}
	if cfg != nil && len(cfg.ModulesToSave) > 0 {
		return fmt.Errorf("adapter %s has modules_to_save %v: those full module copies cannot differ row by row in a mixed batch; serve it merged into the weights (ia3 serve --merge)",
			name, cfg.ModulesToSave)
	}
	return nil
}

// checkName refuses a model id that is empty, equals taken, or holds '/'
// or spaces.
func checkName(name, taken string) error {
	if name == "" || name == taken || strings.ContainsAny(name, "/ \t\n") {
		return fmt.Errorf("%q: want a non-empty name other than %q, without '/' or spaces", name, taken)
	}
	return nil
}

// Models lists the model ids the server answers to: the base model's
// (Options.BaseName) and every adapter, in load order.
func (s *Server) Models() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{s.o.BaseName}, s.adapters...)
}

// hasModel reports whether id names the base model or a loaded adapter.
func (s *Server) hasModel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return id == s.o.BaseName || slices.Contains(s.adapters, id)
}

// Stats is a snapshot of the scheduler's load, for tests and load reports.
type Stats struct {
	// Queued sequences wait for a batch row; Rows are decoding.
	Queued, Rows int
	// CacheRows is the KV cache's row count (Rows between steps).
	CacheRows int
	// DecodeSteps counts batched decoding steps and PrefillSteps batched
	// prompt passes since start.
	DecodeSteps, PrefillSteps int64
	// Tokens counts generated tokens since start.
	Tokens int64
}

// Stats returns the current load.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	q := len(s.queue)
	s.mu.Unlock()
	st := s.m.snapshot()
	st.Queued = q
	return st
}

// notify wakes the scheduler.
func (s *Server) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue queues the sequences of one request, all or none; it fails when
// the queue is full or the server is shutting down.
func (s *Server) enqueue(seqs []*seq) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errShuttingDown
	}
	if len(s.queue)+len(seqs) > s.o.MaxQueue {
		s.purgeQueue()
	}
	if len(s.queue)+len(seqs) > s.o.MaxQueue {
		return errQueueFull
	}
	s.queue = append(s.queue, seqs...)
	s.m.setQueue(len(s.queue))
	s.notify()
	return nil
}

// purgeQueue drops the queued sequences whose request has ended (client
// gone, deadline passed), so they do not hold queue places until the
// scheduler reaches them; s.mu must be held.
func (s *Server) purgeQueue() {
	s.queue = slices.DeleteFunc(s.queue, func(q *seq) bool {
		if err := q.ctx.Err(); err != nil {
			q.out <- event{err: err}
			return true
		}
		return false
	})
	s.m.setQueue(len(s.queue))
}

var (
	errShuttingDown = errors.New("the server is shutting down")
	errQueueFull    = errors.New("the request queue is full; retry later")
)

// runControl runs fn on the scheduler goroutine between decoding steps and
// returns its error: adapters are loaded and deleted there, so no step
// sees a half-attached adapter.
func (s *Server) runControl(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return errShuttingDown
	}
	s.control = append(s.control, func() { res <- fn() })
	s.mu.Unlock()
	s.notify()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errShuttingDown
	}
}

// Shutdown stops accepting requests (503), lets the queued and decoding
// ones finish until ctx ends, then cancels what remains and stops the
// scheduler. The model and adapters are the caller's again afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		st := s.Stats()
		if st.Queued == 0 && st.Rows == 0 {
			break
		}
		select {
		case <-ctx.Done():
			s.Close()
			return fmt.Errorf("serve: shutdown: %d queued and %d decoding requests cancelled: %w", st.Queued, st.Rows, ctx.Err())
		case <-t.C:
		}
	}
	s.Close()
	return nil
}

// PEFT returns the adapters attached to the base model, including those
// loaded through the API (nil when none ever was), so that the caller can
// free them ((*ia3.Model).Close) after Close.
func (s *Server) PEFT() *ia3.Model {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peft
}

// Close cancels every queued and decoding request, stops the scheduler and
// frees its KV cache. It is idempotent. The base model and the adapters
// stay the caller's to free (see PEFT).
func (s *Server) Close() {
	s.mu.Lock()
	s.closing = true
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
}
