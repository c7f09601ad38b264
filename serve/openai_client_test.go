package serve

import (
	"context"
	"errors"
	"io"
	"testing"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
)

// TestOpenAIClient checks that a well-kept OpenAI client library
// (github.com/sashabaranov/go-openai) talks to the server: models,
// completions whole and streamed, chat, and errors as *openai.APIError.
func TestOpenAIClient(t *testing.T) {
	h := newHarness(t, "llama", Options{APIKey: "k"})
	cfg := openai.DefaultConfig("k")
	cfg.BaseURL = h.http.URL + "/v1"
	cfg.HTTPClient = h.http.Client()
	client := openai.NewClientWithConfig(cfg)
	ctx := context.Background()

	models, err := client.ListModels(ctx)
	require.NoError(t, err)
	var ids []string
	for _, m := range models.Models {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{BaseModelID, "a", "b", "w"}, ids)

	// go-openai leaves a zero temperature out (the server's default is 1,
	// as OpenAI's), so the requests sample with a seed.
	seed := 5
	prompt := "the quick brown fox"
	want, err := h.srv.decode(h.want("a", h.encode(prompt), 6, model.SampleOptions{Temperature: 0.8, Seed: 5}))
	require.NoError(t, err)
	req := openai.CompletionRequest{Model: "a", Prompt: prompt, MaxTokens: 6, Temperature: 0.8, Seed: &seed}
	resp, err := client.CreateCompletion(ctx, req)
	require.NoError(t, err)
	require.Len(t, resp.Choices, 1)
	assert.Equal(t, want, resp.Choices[0].Text)
	assert.Equal(t, 6, resp.Usage.CompletionTokens)

	stream, err := client.CreateCompletionStream(ctx, req)
	require.NoError(t, err)
	var text string
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		for _, c := range chunk.Choices {
			text += c.Text
		}
	}
	stream.Close()
	assert.Equal(t, want, text)

	msgs := []ChatMessage{{Role: "user", Content: "hello there"}}
	rendered, err := PlainChat(msgs)
	require.NoError(t, err)
	wantChat, err := h.srv.decode(h.want("w", h.encode(rendered), 5, model.SampleOptions{Temperature: 0.5, Seed: 5}))
	require.NoError(t, err)
	chat, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "w", MaxTokens: 5, Temperature: 0.5, Seed: &seed,
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "hello there"}}})
	require.NoError(t, err)
	require.Len(t, chat.Choices, 1)
	assert.Equal(t, wantChat, chat.Choices[0].Message.Content)
	assert.Equal(t, openai.ChatMessageRoleAssistant, chat.Choices[0].Message.Role)

	_, err = client.CreateCompletion(ctx, openai.CompletionRequest{Model: "nope", Prompt: prompt})
	var apiErr *openai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 404, apiErr.HTTPStatusCode)
	assert.Equal(t, "model_not_found", apiErr.Code)

	badCfg := openai.DefaultConfig("wrong")
	badCfg.BaseURL, badCfg.HTTPClient = cfg.BaseURL, cfg.HTTPClient
	bad := openai.NewClientWithConfig(badCfg)
	_, err = bad.ListModels(ctx)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.HTTPStatusCode)
}
