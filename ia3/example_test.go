package ia3_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/ia3/ia3/backend"
	_ "github.com/ia3/ia3/backend/cpu" // registers "cpu" for backend.Open
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/ia3/train"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// fixture is a PEFT parity case kept in the repository: a tiny random
// Mistral saved by transformers (base/), two adapters saved by PEFT
// (adapters/a, adapters/b) and a batch of inputs with labels.
const fixture = "../testdata/fixtures/peft/mistral"

// loadBase opens the CPU backend and loads the fixture's base model.
func loadBase(ctx context.Context) (backend.Backend, *model.Model) {
	b, err := backend.Open(ctx, "cpu")
	if err != nil {
		log.Fatal(err)
	}
	base, err := model.Load(ctx, filepath.Join(fixture, "base"), b)
	if err != nil {
		log.Fatal(err)
	}
	return b, base
}

// logits runs one forward pass without gradients and downloads the logits.
func logits(m *model.Model, in *model.Inputs) []float32 {
	g := nn.NewGraph(m.Backend(), false)
	defer g.Release()
	out := m.Forward(g, in)
	if err := g.Err(); err != nil {
		log.Fatal(err)
	}
	v, err := m.Backend().ToFloat32(out.T)
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// maxAbsDiff is the largest element-wise difference of two slices.
func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// The PEFT flow, step for step: IA3Config → get_peft_model → a training
// loop → save_pretrained → PeftModel.from_pretrained → merge_and_unload.
func Example() {
	ctx := context.Background()
	b, base := loadBase(ctx)
	defer b.Close()

	// IA3Config(task_type="CAUSAL_LM", target_modules=[...], feedforward_modules=[...])
	cfg := ia3.NewConfig()
	cfg.TaskType = ia3.TaskCausalLM
	cfg.TargetModules = ia3.Names("k_proj", "v_proj", "down_proj")
	cfg.FeedforwardModules = ia3.Names("down_proj")

	// get_peft_model(base, cfg)
	pm, err := ia3.New(base, cfg, ia3.DefaultAdapter)
	if err != nil {
		log.Fatal(err)
	}

	// Five AdamW steps on one batch (ia3/train.Run does this from JSONL).
	in, err := model.InputsFromSafetensors(filepath.Join(fixture, "inputs.safetensors"))
	if err != nil {
		log.Fatal(err)
	}
	opt, err := train.NewOptimizer(b, pm.TrainableParams(), train.DefaultAdamW())
	if err != nil {
		log.Fatal(err)
	}
	defer opt.Free()
	var losses []float32
	for range 5 {
		g := nn.NewGraph(b, true)
		loss := base.Loss(g, in)
		if err := g.Backward(loss); err != nil {
			log.Fatal(err)
		}
		l, err := b.ToFloat32(loss.T)
		if err != nil {
			log.Fatal(err)
		}
		losses = append(losses, l[0])
		grads := make([]backend.Tensor, len(opt.Params()))
		for i, p := range opt.Params() {
			grads[i] = g.ParamGrad(p.Param)
		}
		if err := opt.Step(grads, 0.05); err != nil {
			log.Fatal(err)
		}
		g.Release()
	}
	fmt.Println("loss went down:", losses[4] < losses[0])

	// model.save_pretrained(dir)
	dir, err := os.MkdirTemp("", "ia3-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := pm.SavePretrained(dir); err != nil {
		log.Fatal(err)
	}
	trained := logits(base, in)

	// PeftModel.from_pretrained(fresh_base, dir)
	fresh, err := model.Load(ctx, filepath.Join(fixture, "base"), b)
	if err != nil {
		log.Fatal(err)
	}
	loaded, err := ia3.FromPretrained(fresh, dir, ia3.DefaultAdapter, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reloaded logits equal:", maxAbsDiff(trained, logits(fresh, in)) == 0)

	// merge_and_unload(): a plain model computing the same logits.
	merged, err := loaded.MergeAndUnload(false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("merged logits match:", maxAbsDiff(trained, logits(merged, in)) < 1e-4)
	// Output:
	// loss went down: true
	// reloaded logits equal: true
	// merged logits match: true
}

// New attaches an adapter configured as PEFT's IA3Config; with target and
// feed-forward modules unset, PEFT's defaults for the architecture apply
// (Mistral: k_proj, v_proj and down_proj, down_proj feed-forward).
func ExampleNew() {
	ctx := context.Background()
	b, base := loadBase(ctx)
	defer b.Close()

	cfg := ia3.NewConfig()
	cfg.TaskType = base.Config().TaskType
	pm, err := ia3.New(base, cfg, ia3.DefaultAdapter)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range pm.Layers()[:3] {
		fmt.Println(l.Name, l.VectorShape(), "feedforward:", l.Feedforward)
	}
	if err := pm.PrintTrainableParameters(os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// model.layers.0.self_attn.k_proj [32 1] feedforward: false
	// model.layers.0.self_attn.v_proj [32 1] feedforward: false
	// model.layers.0.mlp.down_proj [1 128] feedforward: true
	// trainable params: 384 || all params: 107,200 || trainable%: 0.3582
}

// SavePretrained writes adapter_config.json and adapter_model.safetensors
// as PEFT does; FromPretrained reads them back onto a base model.
func ExampleModel_SavePretrained() {
	ctx := context.Background()
	b, base := loadBase(ctx)
	defer b.Close()

	pm, err := ia3.New(base, ia3.NewConfig(), ia3.DefaultAdapter)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ia3-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := pm.SavePretrained(dir); err != nil {
		log.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name())
	}

	fresh, err := model.Load(ctx, filepath.Join(fixture, "base"), b)
	if err != nil {
		log.Fatal(err)
	}
	loaded, err := ia3.FromPretrained(fresh, dir, "mine", false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.Adapters(), loaded.ActiveAdapters(), len(loaded.TrainableParams()), "trainable")
	// Output:
	// adapter_config.json
	// adapter_model.safetensors
	// [mine] [mine] 0 trainable
}

// AddWeightedAdapter combines saved adapters into a new one whose vectors
// are the weighted sum of theirs.
func ExampleModel_AddWeightedAdapter() {
	ctx := context.Background()
	b, base := loadBase(ctx)
	defer b.Close()

	pm, err := ia3.FromPretrained(base, filepath.Join(fixture, "adapters", "a"), "a", false)
	if err != nil {
		log.Fatal(err)
	}
	if err := pm.LoadAdapter(filepath.Join(fixture, "adapters", "b"), "b"); err != nil {
		log.Fatal(err)
	}
	if err := pm.AddWeightedAdapter([]string{"a", "b"}, []float64{0.6, 0.4}, "w"); err != nil {
		log.Fatal(err)
	}
	if err := pm.SetAdapter("w"); err != nil {
		log.Fatal(err)
	}

	// Check one layer's vector: w = 0.6·a + 0.4·b.
	l := pm.Layers()[0]
	va, _ := b.ToFloat32(l.Vector("a").T)
	vb, _ := b.ToFloat32(l.Vector("b").T)
	vw, _ := b.ToFloat32(l.Vector("w").T)
	worst := 0.0
	for i := range vw {
		worst = math.Max(worst, math.Abs(float64(vw[i])-(0.6*float64(va[i])+0.4*float64(vb[i]))))
	}
	fmt.Println(pm.Adapters(), pm.ActiveAdapters())
	fmt.Println("w = 0.6·a + 0.4·b:", worst < 1e-6)
	// Output:
	// [a b w] [w]
	// w = 0.6·a + 0.4·b: true
}

// MergeAndUnload folds the active adapter into the base weights and returns
// a plain model that computes what the adapted one did.
func ExampleModel_MergeAndUnload() {
	ctx := context.Background()
	b, base := loadBase(ctx)
	defer b.Close()

	in, err := model.InputsFromSafetensors(filepath.Join(fixture, "inputs.safetensors"))
	if err != nil {
		log.Fatal(err)
	}
	pm, err := ia3.FromPretrained(base, filepath.Join(fixture, "adapters", "a"), "a", false)
	if err != nil {
		log.Fatal(err)
	}
	adapted := logits(base, in)

	merged, err := pm.MergeAndUnload(true) // safe: check for NaN/Inf first
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same logits:", maxAbsDiff(adapted, logits(merged, in)) < 1e-4)

	// merged.Save(dir) writes a checkpoint transformers loads without PEFT.
	// Output:
	// same logits: true
}
