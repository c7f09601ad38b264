package serve_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	openai "github.com/sashabaranov/go-openai"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/tokenizer"
	"github.com/ia3/ia3/serve"
)

// Example mounts the server for a base model and two adapters in a Go
// program's own HTTP mux, under /llm.
func Example() {
	ctx := context.Background()
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	base, err := model.Load(ctx, "./gpt2", b)
	if err != nil {
		log.Fatal(err)
	}
	defer base.Free()
	peft, err := ia3.FromPretrained(base, "./adapters/sentiment", "sentiment", false)
	if err != nil {
		log.Fatal(err)
	}
	if err := peft.LoadAdapter("./adapters/summaries", "summaries"); err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.LoadDir("./gpt2")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := serve.New(base, peft, tok, serve.Options{APIKey: os.Getenv("IA3_API_KEY"), MaxBatch: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/llm/", http.StripPrefix("/llm", srv.Handler()))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}

// Example_openAIClient talks to `ia3 serve` with an OpenAI client library:
// the model names the adapter ("base" for none).
func Example_openAIClient() {
	cfg := openai.DefaultConfig(os.Getenv("IA3_API_KEY"))
	cfg.BaseURL = "http://127.0.0.1:8080/v1"
	client := openai.NewClientWithConfig(cfg)
	seed := 1
	resp, err := client.CreateCompletion(context.Background(), openai.CompletionRequest{
		Model: "summaries", Prompt: "Once upon a time", MaxTokens: 20, Temperature: 0.7, Seed: &seed,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Choices[0].Text)
}
