package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
)

// TestMixtralGradientsOnEveryDevice checks the (IA)³ vector gradients of
// a Mixtral model (k_proj, v_proj and every expert's w2, whose gradient
// reaches the earlier layers through the routing weights too) against
// finite differences of the loss on the CPU and every WebGPU adapter.
func TestMixtralGradientsOnEveryDevice(t *testing.T) {
	c := decoderCase{name: "mixtral 4 experts top 2, window 3", typ: "mixtral", extra: map[string]any{
		"num_local_experts": 4.0, "num_experts_per_tok": 2.0, "sliding_window": 3.0, "num_key_value_heads": 1.0}}
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			r := decoderRun(t, b, c, 17)
			require.Len(t, r.params, len(c.modules(0))+len(c.modules(1)))
			checkFiniteDifferences(t, b, r)
		})
	}
}

// TestMixtralMergeUnmerge merges a trained-looking adapter (k_proj,
// v_proj and every expert's w2) into a Mixtral model's weights and
// unmerges it, on every device: the experts run from the per-expert
// weights themselves (nothing stacked or cached), so the merged model
// gives the adapted logits and the unmerged one gives them again with the
// adapter active, and the base model's without it.
func TestMixtralMergeUnmerge(t *testing.T) {
	c := decoderCase{name: "mixtral 4 experts top 2", typ: "mixtral", extra: map[string]any{
		"num_local_experts": 4.0, "num_experts_per_tok": 2.0}}
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			r := decoderRun(t, b, c, 8)
			base := logits(t, b, randomDecoder(t, b, c, 8), r.in)
			setTrainedLooking(t, b, r.params)
			adapted := logits(t, b, r.base, r.in)
			require.Greater(t, maxDiff(base, adapted), 1e-3, "the adapter changes the logits")
			require.NoError(t, r.pm.Merge(true))
			assert.InDeltaSlice(t, adapted, logits(t, b, r.base, r.in), 1e-4, "merged")
			require.NoError(t, r.pm.Unmerge())
			assert.InDeltaSlice(t, adapted, logits(t, b, r.base, r.in), 1e-4, "unmerged, adapter active")
			require.NoError(t, r.pm.DisableAdapterLayers())
			assert.InDeltaSlice(t, base, logits(t, b, r.base, r.in), 1e-4, "unmerged, adapter disabled")
		})
	}
}

// TestDecoderSeqClsTraining checks Llama-family sequence classifiers
// under PEFT's SEQ_CLS defaults: the trainable parameters are the (IA)³
// vectors and the score head (modules_to_save), their gradients match
// finite differences of the loss (CPU), and the saved adapter holds
// PEFT's keys and reloads to the same logits (CPU and WebGPU).
func TestDecoderSeqClsTraining(t *testing.T) {
	cases := []decoderCase{
		{name: "llama", typ: "llama", extra: map[string]any{"architectures": []any{"LlamaForSequenceClassification"}}},
		{name: "gemma2", typ: "gemma2", extra: map[string]any{"architectures": []any{"Gemma2ForSequenceClassification"},
			"sliding_window": 2.0}},
		{name: "mixtral", typ: "mixtral", extra: map[string]any{"architectures": []any{"MixtralForSequenceClassification"},
			"num_local_experts": 3.0}},
	}
	run := func(t *testing.T, b backend.Backend, c decoderCase) fixtureRun {
		c.extra["num_labels"], c.extra["pad_token_id"] = 3.0, 0.0
		base := randomDecoder(t, b, c, 12)
		ic := ia3.NewConfig()
		ic.TaskType = model.TaskSeqCls
		pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
		require.NoError(t, err)
		in := &model.Inputs{Batch: 2, Seq: 5, InputIDs: []int32{4, 9, 2, 7, 5, 3, 8, 6, 0, 0},
			AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, Labels: []int32{2, 0}}
		return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}
	}
	for _, c := range cases {
		t.Run(c.name+" gradients", func(t *testing.T) {
			b := openCPU(t)
			r := run(t, b, c)
			require.Len(t, r.params, len(c.modules(0))+len(c.modules(1))+1, "vectors of two layers and score")
			checkFiniteDifferences(t, b, r)
		})
	}
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := run(t, b, c)
					setTrainedLooking(t, b, r.params) // vectors and head
					want := []string{"base_model.model.score.weight"}
					for l := 0; l < 2; l++ {
						for _, m := range c.modules(l) {
							want = append(want, "base_model.model."+m+".ia3_l")
						}
					}
					checkAdapterRoundTrip(t, b, r, want, randomDecoder(t, b, c, 12))
				})
			}
		})
	}
}

// TestMixtralMixedAdapterBatch runs a batch whose two samples use two
// different adapters (serving's and mixed training's path) through a
// Mixtral model, with and without gradients, and checks each sample's
// logits against a run of that sample alone with its adapter active, on
// every device. The experts then see the whole batch, so each row keeps
// its sample's vectors.
func TestMixtralMixedAdapterBatch(t *testing.T) {
	c := decoderCase{name: "mixtral", typ: "mixtral", extra: map[string]any{"num_local_experts": 4.0,
		"num_experts_per_tok": 2.0}}
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			base := randomDecoder(t, b, c, 3)
			ic := ia3.NewConfig()
			ic.TaskType = model.TaskCausalLM
			pm, err := ia3.New(base, ic, "a")
			require.NoError(t, err)
			setTrainedLooking(t, b, pm.TrainableParams())
			require.NoError(t, pm.AddAdapter("b", ic))
			require.NoError(t, pm.SetAdapter("b"))
			for i, p := range pm.TrainableParams() {
				v := make([]float32, p.Param.T.Len())
				for j := range v {
					v[j] = 1 + 0.05*float32((3*i+j)%5-2)
				}
				nt, err := b.FromFloat32(v, p.Param.T.Shape()...)
				require.NoError(t, err)
				b.Free(p.Param.T)
				p.Param.T = nt
			}
			rows := [][]int32{{3, 9, 4, 1, 7}, {8, 2, 6, 5, 3}}
			var want []float32
			for i, name := range []string{"a", "b"} {
				require.NoError(t, pm.SetAdapter(name))
				want = append(want, logits(t, b, base, &model.Inputs{Batch: 1, Seq: 5, InputIDs: rows[i]})...)
			}
			in := &model.Inputs{Batch: 2, Seq: 5, InputIDs: append(append([]int32{}, rows[0]...), rows[1]...)}
			for _, grad := range []bool{false, true} {
				g := nn.NewGraph(b, grad)
				g.Adapters = []string{"a", "b"}
				out := base.Forward(g, in)
				require.NoError(t, g.Err())
				got, err := b.ToFloat32(out.T)
				require.NoError(t, err)
				g.Release()
				assert.InDeltaSlice(t, want, got, 1e-4, "gradients %v", grad)
			}
		})
	}
}
