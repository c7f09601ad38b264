package train

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
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
