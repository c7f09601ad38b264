package model_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu" // registers "cpu" for backend.Open
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// base is a tiny random Mistral checkpoint saved by transformers, kept in
// the repository as a PEFT parity fixture.
const base = "../testdata/fixtures/peft/mistral/base"

// Load a Hugging Face checkpoint directory, run a forward pass on a batch
// of token ids, and read the logits back.
func ExampleModel_Forward() {
	ctx := context.Background()
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	m, err := model.Load(ctx, base, b)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	fmt.Println(m.Config().ModelType, m.Config().TaskType)

	// Two sequences of four tokens; the second is left-padded.
	in := &model.Inputs{
		Batch: 2, Seq: 4,
		InputIDs:      []int32{10, 20, 30, 40, 0, 5, 6, 7},
		AttentionMask: []int32{1, 1, 1, 1, 0, 1, 1, 1},
	}
	g := nn.NewGraph(b, false) // no gradients: inference
	defer g.Release()
	logits := m.Forward(g, in)
	if err := g.Err(); err != nil {
		log.Fatal(err)
	}
	values, err := b.ToFloat32(logits.T)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(logits.Shape(), len(values))
	// Output:
	// mistral CAUSAL_LM
	// [2 4 256] 2048
}

// Generate continues prompts of token ids through a KV cache, greedily
// here (Temperature 0), stopping at EOS or after MaxNewTokens.
func ExampleModel_Generate() {
	ctx := context.Background()
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	m, err := model.Load(ctx, base, b)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Free()

	prompts := [][]int32{{10, 20, 30}, {5}}
	out, err := m.Generate(ctx, prompts, model.GenerateOptions{MaxNewTokens: 5, EOS: []int32{}})
	if err != nil {
		log.Fatal(err)
	}
	for i, ids := range out {
		fmt.Println(prompts[i], "→", ids)
	}
	// The base model is random, hence the repetitive continuations.
	// Output:
	// [10 20 30] → [208 208 208 208 208]
	// [5] → [182 182 182 182 182]
}
