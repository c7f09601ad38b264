package train_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu" // registers "cpu" for backend.Open
	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/model"
)

// tinyModel writes a random two-layer GPT-2 with a character-level
// tokenizer.json to dir: any Hugging Face model directory with a
// tokenizer.json works the same way.
func tinyModel(ctx context.Context, dir string) {
	chars := []rune(" .abcdefghijklmnopqrstuvwxyz")
	vocab := map[string]int{"<unk>": 0}
	for i, r := range chars {
		vocab[string(r)] = i + 1
	}
	tok, err := json.Marshal(map[string]any{
		"version": "1.0", "added_tokens": []any{}, "normalizer": nil, "pre_tokenizer": nil,
		"post_processor": nil, "decoder": nil, "truncation": nil, "padding": nil,
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []any{}, "unk_token": "<unk>"},
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := model.ParseConfig(fmt.Appendf(nil, `{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
		"vocab_size": %d, "n_embd": 32, "n_head": 2, "n_layer": 2, "n_positions": 64,
		"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}`, len(vocab)))
	if err != nil {
		log.Fatal(err)
	}
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	m, err := model.NewRandom(cfg, b, 1)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		log.Fatal(err)
	}
}

// Run trains an adapter from JSONL ({"text"} here; {"prompt","completion"},
// {"input","target"} and {"text","label"} for the other tasks) and saves
// it in PEFT's layout with a loss curve.
func ExampleRun() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ia3-train-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	modelDir := filepath.Join(tmp, "model")
	tinyModel(ctx, modelDir)

	data := filepath.Join(tmp, "train.jsonl")
	lines := `{"text": "the cat sat on the mat."}
{"text": "a dog ran in the park."}
{"prompt": "the sun ", "completion": "shines."}
{"prompt": "rain ", "completion": "falls."}
`
	if err := os.WriteFile(data, []byte(lines), 0o644); err != nil {
		log.Fatal(err)
	}

	res, err := train.Run(ctx, train.Options{
		ModelDir:  modelDir,
		TrainFile: data,
		OutDir:    filepath.Join(tmp, "adapter"),
		Device:    "cpu",
		MaxSteps:  6,
		BatchSize: 2,
		LR:        0.05,
		Seed:      1,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("steps:", res.Steps, "examples:", res.TrainExamples)
	fmt.Println("trainable:", res.TrainableParams, "of", res.AllParams)

	// Evaluate compares the base model with the trained adapter.
	before, err := train.Evaluate(ctx, train.EvalOptions{ModelDir: modelDir, DataFile: data, Device: "cpu"})
	if err != nil {
		log.Fatal(err)
	}
	after, err := train.Evaluate(ctx, train.EvalOptions{ModelDir: modelDir, AdapterDir: res.AdapterDir, DataFile: data, Device: "cpu"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the adapter lowers the loss:", after.Loss < before.Loss)
	entries, err := os.ReadDir(res.AdapterDir)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// steps: 6 examples: 4
	// trainable: 448 of 28896
	// the adapter lowers the loss: true
	// adapter_config.json
	// adapter_model.safetensors
	// loss.png
}
