package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/tokenizer"
)

// fixtureAdapters are the adapters of every causal fixture case.
var fixtureAdapters = []string{"a", "b", "w"}

// opener opens a backend that the test's cleanup closes.
type opener func(t *testing.T) backend.Backend

// openCPU opens the CPU backend, closed when the test ends.
func openCPU(t *testing.T) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "cpu")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// loadFixture loads a fixture case's base model on the CPU with its
// adapters a, b and w attached, freed when the test ends.
func loadFixture(t *testing.T, c modeltest.Case) (*model.Model, *ia3.Model) {
	t.Helper()
	return loadFixtureOn(t, c, openCPU)
}

// loadFixtureOn is loadFixture on the backend open gives.
func loadFixtureOn(t *testing.T, c modeltest.Case, open opener) (*model.Model, *ia3.Model) {
	t.Helper()
	b := open(t)
	m, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	var peft *ia3.Model
	for i, name := range fixtureAdapters {
		dir := filepath.Join(c.Dir, "adapters", name)
		if i == 0 {
			peft, err = ia3.FromPretrained(m, dir, name, false)
		} else {
			err = peft.LoadAdapter(dir, name)
		}
		require.NoError(t, err)
	}
	return m, peft
}

// fixtureTokenizer is the fixture tokenizer whose ids fit the fixture
// models' 256-token vocabulary.
func fixtureTokenizer(t *testing.T, c modeltest.Case) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(filepath.Dir(c.Dir), "tokenizers", "sentencepiece_unigram", "tokenizer.json"))
	require.NoError(t, err)
	return tok
}

// harness is a server on a fixture model over loopback, with a second copy
// of the model that computes what Generate gives each request alone.
type harness struct {
	t    *testing.T
	srv  *Server
	http *httptest.Server
	tok  *tokenizer.Tokenizer
	dir  string // the fixture case directory

	refMu   sync.Mutex
	refBase *model.Model
	refPeft *ia3.Model
	refs    map[string][]int32
}

// newHarness starts a server on fixture case name on the CPU.
func newHarness(t *testing.T, name string, o Options) *harness {
	t.Helper()
	return newHarnessOn(t, name, o, openCPU)
}

// newHarnessOn starts a server on fixture case name, its model and the
// reference copy each on a backend open gives.
func newHarnessOn(t *testing.T, name string, o Options, open opener) *harness {
	t.Helper()
	c := modeltest.NamedCase(t, name)
	base, peft := loadFixtureOn(t, c, open)
	refBase, refPeft := loadFixtureOn(t, c, open)
	tok := fixtureTokenizer(t, c)
	if o.RenderChat == nil {
		o.RenderChat = PlainChat
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := New(base, peft, tok, o)
	require.NoError(t, err)
	h := &harness{t: t, srv: srv, tok: tok, dir: c.Dir, refBase: refBase, refPeft: refPeft, refs: map[string][]int32{}}
	h.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		h.http.Close()
		srv.Close()
	})
	return h
}

// encode tokenizes text as the server does.
func (h *harness) encode(text string) []int32 {
	enc, err := h.tok.Encode(text)
	require.NoError(h.t, err)
	ids := make([]int32, len(enc.IDs))
	for i, id := range enc.IDs {
		ids[i] = int32(id)
	}
	return ids
}

// want returns what Generate gives prompt alone with adapter modelID
// active (the base model: adapters disabled).
func (h *harness) want(modelID string, prompt []int32, maxTokens int, o model.SampleOptions) []int32 {
	return h.wantEOS(h.srv.eos, modelID, prompt, maxTokens, o)
}

// wantEOS is want stopping at the tokens eos.
func (h *harness) wantEOS(eos []int32, modelID string, prompt []int32, maxTokens int, o model.SampleOptions) []int32 {
	h.refMu.Lock()
	defer h.refMu.Unlock()
	key := fmt.Sprint(eos, modelID, prompt, maxTokens, o)
	if got, ok := h.refs[key]; ok {
		return got
	}
	var out [][]int32
	gen := func() error {
		var err error
		out, err = h.refBase.Generate(context.Background(), [][]int32{prompt}, model.GenerateOptions{MaxNewTokens: maxTokens,
			Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP, Seed: o.Seed, EOS: eos})
		return err
	}
	var err error
	if modelID == BaseModelID {
		err = h.refPeft.WithAdaptersDisabled(gen)
	} else {
		require.NoError(h.t, h.refPeft.SetAdapter(modelID))
		err = gen()
	}
	require.NoError(h.t, err)
	h.refs[key] = out[0]
	return out[0]
}

// post sends a JSON body and returns the status and body.
func (h *harness) post(ctx context.Context, path string, body any, header ...string) (int, []byte) {
	var r io.Reader
	switch b := body.(type) {
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(body)
		require.NoError(h.t, err)
		r = bytes.NewReader(data)
	}
	return h.do(ctx, http.MethodPost, path, r, header...)
}

// do sends a request with header pairs and returns the status and body.
func (h *harness) do(ctx context.Context, method, path string, body io.Reader, header ...string) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, method, h.http.URL+path, body)
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, []byte(err.Error())
	}
	return resp.StatusCode, data
}

// completion is the part of a /v1/completions answer the tests read.
type completion struct {
	Choices []struct {
		Text         string  `json:"text"`
		TokenIDs     []int32 `json:"token_ids"`
		FinishReason string  `json:"finish_reason"`
		Index        int     `json:"index"`
		Message      struct {
			Content string `json:"content"`
		} `json:"message"`
		Logprobs *struct {
			Tokens        []string  `json:"tokens"`
			TokenLogprobs []float32 `json:"token_logprobs"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// streamed reads an SSE body into each choice's text and finish reason,
// and reports whether it ended with data: [DONE].
func streamed(t *testing.T, body []byte) (texts map[int]string, finish map[int]string, done bool) {
	t.Helper()
	texts, finish = map[int]string{}, map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		require.True(t, strings.HasPrefix(line, "data: "), "SSE line %q", line)
		data := strings.TrimPrefix(line, "data: ")
		if data == "[DONE]" {
			done = true
			continue
		}
		var c struct {
			Choices []struct {
				Index        int     `json:"index"`
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
				Delta        struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Error *apiError `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &c), data)
		require.Nil(t, c.Error, data)
		for _, ch := range c.Choices {
			texts[ch.Index] += ch.Text + ch.Delta.Content
			if ch.FinishReason != nil {
				finish[ch.Index] = *ch.FinishReason
			}
		}
	}
	return texts, finish, done
}

// holdScheduler stops the scheduler between steps until the returned
// function is called, so that requests pile up in the queue and are
// admitted together.
func (h *harness) holdScheduler() (release func()) {
	gated, rel := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- h.srv.runControl(context.Background(), func() error {
			close(gated)
			<-rel
			return nil
		})
	}()
	<-gated
	return func() {
		close(rel)
		require.NoError(h.t, <-held)
	}
}
