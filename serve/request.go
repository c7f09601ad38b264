package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/chat"
)

// wireRequest is the JSON body of /v1/completions and
// /v1/chat/completions; fields a request leaves out are nil.
type wireRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []ChatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	// Logprobs is a number (completions: how many alternatives) or a
	// boolean (chat, with TopLogprobs).
	Logprobs    json.RawMessage `json:"logprobs"`
	TopLogprobs *int            `json:"top_logprobs"`
	Echo        bool            `json:"echo"`
	// Unsupported: refused when they would change the result.
	PresencePenalty  float64            `json:"presence_penalty"`
	FrequencyPenalty float64            `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	BestOf           *int               `json:"best_of"`
	Suffix           string             `json:"suffix"`
}

// request is a validated completion request.
type request struct {
	chat  bool
	model string
	// prompts holds one or more prompts (a completions list); choice
	// p·n+k continues prompt p with seed+k.
	prompts [][]int32
	// eos lists the tokens that end a choice.
	eos          []int32
	maxTokens    int
	sample       model.SampleOptions
	stop         []string
	n            int
	stream       bool
	includeUsage bool
	logprobs     int // -1: none
}

// maxStops bounds the stop sequences, as OpenAI does.
const maxStops = 4

// decodeRequest reads and validates a completion request body.
func (s *Server) decodeRequest(w http.ResponseWriter, r *http.Request, isChat bool) (*request, *apiError) {
	body := http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes)
	var wr wireRequest
	dec := json.NewDecoder(body)
	if err := dec.Decode(&wr); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newAPIError(http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request_too_large",
				"request body exceeds %d bytes", s.o.MaxBodyBytes)
		}
		return nil, badRequest("", "invalid_json", "malformed JSON body: %v", err)
	}
	if dec.More() {
		return nil, badRequest("", "invalid_json", "malformed JSON body: data after the request object")
	}
	req := &request{chat: isChat, model: wr.Model, logprobs: -1, eos: s.eos}
	if wr.Model == "" {
		return nil, badRequest("model", "", "model is required: %q or an adapter name (GET /v1/models lists them)", s.o.BaseName)
	}
	if !s.hasModel(wr.Model) {
		return nil, newAPIError(http.StatusNotFound, "invalid_request_error", "model", "model_not_found",
			"the model %q does not exist (GET /v1/models lists them)", wr.Model)
	}
	if e := s.readPrompt(&wr, req); e != nil {
		return nil, e
	}
	if e := s.readLimits(&wr, req); e != nil {
		return nil, e
	}
	if e := readSampling(&wr, req); e != nil {
		return nil, e
	}
	if e := readStops(wr.Stop, req); e != nil {
		return nil, e
	}
	if e := readLogprobs(&wr, req); e != nil {
		return nil, e
	}
	if e := refuseUnsupported(&wr); e != nil {
		return nil, e
	}
	req.stream = wr.Stream
	req.includeUsage = wr.StreamOptions != nil && wr.StreamOptions.IncludeUsage
	return req, nil
}

// refuseUnsupported refuses the OpenAI parameters this server does not
// implement when they are set to anything that would change the result.
func refuseUnsupported(wr *wireRequest) *apiError {
	for _, u := range []struct {
		param string
		set   bool
	}{
		{"echo", wr.Echo},
		{"presence_penalty", wr.PresencePenalty != 0},
		{"frequency_penalty", wr.FrequencyPenalty != 0},
		{"logit_bias", len(wr.LogitBias) > 0},
		{"best_of", wr.BestOf != nil && *wr.BestOf != 1},
		{"suffix", wr.Suffix != ""},
	} {
		if u.set {
			return badRequest(u.param, "unsupported_parameter", "%s is not supported by this server", u.param)
		}
	}
	return nil
}

// readPrompt tokenizes the prompt (a string, a one-string list or token
// ids) or renders and tokenizes the chat messages.
func (s *Server) readPrompt(wr *wireRequest, req *request) *apiError {
	var texts []string
	switch {
	case req.chat:
		if len(wr.Messages) == 0 {
			return badRequest("messages", "", "messages is required and must not be empty")
		}
		if s.o.ChatTemplate != nil {
			return s.chatIDs(wr.Messages, req)
		}
		if s.o.RenderChat == nil {
			return badRequest("messages", "", "this server has no chat template for the model; use /v1/completions with a prompt")
		}
		text, err := s.o.RenderChat(wr.Messages)
		if err != nil {
			return badRequest("messages", "", "chat template: %v", err)
		}
		texts = []string{text}
	default:
		raw := bytes.TrimSpace(wr.Prompt)
		var text string
		var ids []int64
		var idLists [][]int64
		switch {
		case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
			return badRequest("prompt", "", "prompt is required")
		case json.Unmarshal(raw, &text) == nil:
			texts = []string{text}
		case json.Unmarshal(raw, &texts) == nil && len(texts) > 0:
		case json.Unmarshal(raw, &ids) == nil && len(ids) > 0:
			idLists = [][]int64{ids}
		case json.Unmarshal(raw, &idLists) == nil && len(idLists) > 0:
		default:
			return badRequest("prompt", "", "prompt must be a string, a non-empty list of strings, or token ids (a list, or a list of lists)")
		}
		if len(idLists) > 0 {
			return s.promptIDLists(idLists, req)
		}
	}
	idLists := make([][]int64, len(texts))
	for p, text := range texts {
		if len(text) > s.o.MaxPromptTokens*64 {
			return badRequest("prompt", "context_length_exceeded", "prompt of %d bytes is longer than the %d-token limit allows", len(text), s.o.MaxPromptTokens)
		}
		enc, err := s.tok.Encode(text)
		if err != nil {
			return badRequest("prompt", "", "tokenize prompt: %v", err)
		}
		idLists[p] = make([]int64, len(enc.IDs))
		for i, id := range enc.IDs {
			idLists[p][i] = int64(id)
		}
	}
	return s.promptIDLists(idLists, req)
}

// chatIDs renders messages with the chat template and the generation
// prompt and tokenizes the text without added special tokens (the
// template writes them), as `ia3 generate --chat` does.
func (s *Server) chatIDs(messages []ChatMessage, req *request) *apiError {
	msgs := make([]chat.Message, len(messages))
	for i, m := range messages {
		msgs[i] = chat.Message{Role: m.Role, Content: m.Content}
	}
	r, err := s.o.ChatTemplate.Render(msgs, chat.Options{AddGenerationPrompt: true})
	if err != nil {
		return badRequest("messages", "", "chat template: %v", err)
	}
	if len(r.Text) > s.o.MaxPromptTokens*64 {
		return badRequest("messages", "context_length_exceeded", "the conversation renders to %d bytes, longer than the %d-token limit allows", len(r.Text), s.o.MaxPromptTokens)
	}
	enc, err := s.tok.EncodeNoSpecial(r.Text)
	if err != nil {
		return badRequest("messages", "", "tokenize the rendered chat: %v", err)
	}
	ids := make([]int64, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int64(id)
	}
	req.eos = s.chatEOS
	return s.promptIDLists([][]int64{ids}, req)
}

// promptIDLists checks each prompt's token ids and that the prompts fit
// the queue.
func (s *Server) promptIDLists(lists [][]int64, req *request) *apiError {
	if len(lists) > s.o.MaxQueue {
		return badRequest("prompt", "", "%d prompts: at most %d (the queue's size)", len(lists), s.o.MaxQueue)
	}
	for _, ids := range lists {
		if e := s.promptIDs(ids, req); e != nil {
			return e
		}
	}
	return nil
}

// promptIDs checks token ids against the vocabulary and the prompt limit.
func (s *Server) promptIDs(ids []int64, req *request) *apiError {
	if len(ids) == 0 {
		return badRequest("prompt", "", "the prompt encodes to no tokens")
	}
	if len(ids) > s.o.MaxPromptTokens {
		return badRequest("prompt", "context_length_exceeded", "prompt of %d tokens exceeds the limit of %d", len(ids), s.o.MaxPromptTokens)
	}
	V := s.base.Config().VocabSize
	prompt := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= int64(V) {
			return badRequest("prompt", "", "prompt token %d = %d is outside the model's vocabulary [0, %d)", i, id, V)
		}
		prompt[i] = int32(id)
	}
	req.prompts = append(req.prompts, prompt)
	return nil
}

// readLimits checks max_tokens and n against the server's limits and the
// model's positions.
func (s *Server) readLimits(wr *wireRequest, req *request) *apiError {
	mt := wr.MaxTokens
	if mt == nil {
		mt = wr.MaxCompletionTokens
	}
	switch {
	case mt != nil:
		req.maxTokens = *mt
	case req.chat:
		req.maxTokens = s.o.MaxTokens
	default:
		req.maxTokens = min(16, s.o.MaxTokens) // OpenAI's completions default
	}
	if req.maxTokens < 1 || req.maxTokens > s.o.MaxTokens {
		return badRequest("max_tokens", "", "max_tokens %d: want 1 to %d", req.maxTokens, s.o.MaxTokens)
	}
	cfg := s.base.Config()
	if cfg.ModelType == "gpt2" && cfg.MaxPositions > 0 {
		longest := 0
		for _, p := range req.prompts {
			longest = max(longest, len(p))
		}
		room := cfg.MaxPositions - longest
		if room < 1 {
			return badRequest("prompt", "context_length_exceeded", "prompt of %d tokens fills the model's %d positions", longest, cfg.MaxPositions)
		}
		if mt == nil {
			req.maxTokens = min(req.maxTokens, room)
		} else if req.maxTokens > room {
			return badRequest("max_tokens", "context_length_exceeded", "prompt of %d tokens + max_tokens %d exceeds the model's %d positions",
				longest, req.maxTokens, cfg.MaxPositions)
		}
	}
	req.n = 1
	if wr.N != nil {
		req.n = *wr.N
	}
	if req.n < 1 || req.n > s.o.MaxN {
		return badRequest("n", "", "n %d: want 1 to %d", req.n, s.o.MaxN)
	}
	if c := req.n * len(req.prompts); c > s.o.MaxQueue {
		return badRequest("n", "", "%d prompts × n %d = %d choices: at most %d (the queue's size)", len(req.prompts), req.n, c, s.o.MaxQueue)
	}
	return nil
}

// readSampling checks temperature, top_p, top_k and seed. Temperature
// defaults to 1 as OpenAI's; 0 decodes greedily. Without a seed a random
// one is drawn.
func readSampling(wr *wireRequest, req *request) *apiError {
	o := model.SampleOptions{Temperature: 1}
	if wr.Temperature != nil {
		o.Temperature = *wr.Temperature
	}
	if math.IsNaN(o.Temperature) || o.Temperature < 0 || o.Temperature > 2 {
		return badRequest("temperature", "", "temperature %g: want 0 to 2", o.Temperature)
	}
	if wr.TopP != nil {
		o.TopP = *wr.TopP
		if math.IsNaN(o.TopP) || o.TopP <= 0 || o.TopP > 1 {
			return badRequest("top_p", "", "top_p %g: want more than 0 and at most 1", o.TopP)
		}
	}
	if wr.TopK != nil {
		o.TopK = *wr.TopK
		if o.TopK < 0 {
			return badRequest("top_k", "", "top_k %d: want 0 (all tokens) or more", o.TopK)
		}
	}
	if wr.Seed != nil {
		if *wr.Seed < 0 {
			return badRequest("seed", "", "seed %d: want a non-negative integer", *wr.Seed)
		}
		o.Seed = uint64(*wr.Seed)
	} else {
		o.Seed = rand.Uint64()
	}
	req.sample = o
	return nil
}

// readStops reads stop: null, a string, or a list of up to 4 non-empty
// strings.
func readStops(raw json.RawMessage, req *request) *apiError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		req.stop = []string{one}
	} else if err := json.Unmarshal(raw, &req.stop); err != nil {
		return badRequest("stop", "", "stop must be a string or a list of strings")
	}
	if len(req.stop) > maxStops {
		return badRequest("stop", "", "stop has %d sequences; at most %d", len(req.stop), maxStops)
	}
	for _, s := range req.stop {
		if s == "" {
			return badRequest("stop", "", "stop sequences must not be empty")
		}
	}
	return nil
}

// readLogprobs reads logprobs: completions give the number of
// alternatives (0 to 5); chat gives true with top_logprobs (0 to 5).
func readLogprobs(wr *wireRequest, req *request) *apiError {
	raw := bytes.TrimSpace(wr.Logprobs)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || bytes.Equal(raw, []byte("false")) {
		if wr.TopLogprobs != nil && *wr.TopLogprobs > 0 && req.chat {
			return badRequest("top_logprobs", "", "top_logprobs needs logprobs true")
		}
		return nil
	}
	const most = 5
	if bytes.Equal(raw, []byte("true")) {
		req.logprobs = 0
		if wr.TopLogprobs != nil {
			req.logprobs = *wr.TopLogprobs
		}
	} else if err := json.Unmarshal(raw, &req.logprobs); err != nil {
		return badRequest("logprobs", "", "logprobs must be a number (completions) or a boolean (chat)")
	}
	if req.logprobs < 0 || req.logprobs > most {
		return badRequest("logprobs", "", "logprobs %d: want 0 to %d alternatives", req.logprobs, most)
	}
	return nil
}

// promptTokens counts the tokens of every prompt.
func (r *request) promptTokens() int {
	n := 0
	for _, p := range r.prompts {
		n += len(p)
	}
	return n
}

// stopIndex returns the index in text of the first stop sequence, or -1.
func stopIndex(text string, stops []string) int {
	best := -1
	for _, s := range stops {
		if i := strings.Index(text, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
