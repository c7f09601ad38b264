package train

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// gptSeqClsClasses names the sequence classification class of each GPT-family type.
var gptSeqClsClasses = map[string]string{"gpt2": "GPT2ForSequenceClassification",
	"gpt_neox": "GPTNeoXForSequenceClassification", "gptj": "GPTJForSequenceClassification",
	"gpt_neo": "GPTNeoForSequenceClassification", "bloom": "BloomForSequenceClassification",
	"opt": "OPTForSequenceClassification", "falcon": "FalconForSequenceClassification",
	"gpt_bigcode": "GPTBigCodeForSequenceClassification", "phi": "PhiForSequenceClassification"}

// gptSeqClsTrainCases are the GPT-family entries of decoderCases, plus
// GPT-2, as sequence classifiers with three labels and pad_token_id 0.
func gptSeqClsTrainCases() []decoderCase {
	cases := []decoderCase{{name: "gpt2", typ: "gpt2", extra: map[string]any{"n_embd": 16.0, "n_layer": 2.0,
		"n_head": 4.0, "n_inner": 24.0, "n_positions": 64.0}}}
	for _, c := range decoderCases {
		if _, ok := gptSeqClsClasses[c.typ]; ok {
			cases = append(cases, c)
		}
	}
	for i, c := range cases {
		extra := maps.Clone(c.extra)
		extra["architectures"] = []any{gptSeqClsClasses[c.typ]}
		extra["num_labels"], extra["pad_token_id"] = 3.0, 0.0
		cases[i].extra = extra
	}
	return cases
}

// gptSeqClsRun attaches PEFT's default SEQ_CLS adapter (the type's
// default targets, score in modules_to_save) to the case's random
// classifier, with a left-padded and a right-padded row.
func gptSeqClsRun(t *testing.T, b backend.Backend, c decoderCase) fixtureRun {
	t.Helper()
	base := randomDecoder(t, b, c, 12)
	ic := ia3.NewConfig()
	ic.TaskType = model.TaskSeqCls
	pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
	require.NoError(t, err)
	in := &model.Inputs{Batch: 2, Seq: 5, InputIDs: []int32{0, 4, 9, 2, 7, 3, 8, 6, 0, 0},
		AttentionMask: []int32{0, 1, 1, 1, 1, 1, 1, 1, 0, 0}, Labels: []int32{2, 0}}
	return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}
}

// TestGPTFamilySeqClsTraining checks the GPT-family sequence classifiers
// under PEFT's SEQ_CLS defaults: the trainable parameters are the (IA)³
// vectors of both layers and score (modules_to_save), their gradients
// match central finite differences of the classification loss (CPU), and
// the saved adapter holds PEFT's keys (base_model.model.score.weight and
// base_model.model.<module>.ia3_l) and reloads, then merges, to the same
// logits (CPU and WebGPU).
func TestGPTFamilySeqClsTraining(t *testing.T) {
	cases := gptSeqClsTrainCases()
	for _, c := range cases {
		t.Run(c.name+" gradients", func(t *testing.T) {
			b := openCPU(t)
			r := gptSeqClsRun(t, b, c)
			require.Len(t, r.params, len(c.modules(0))+len(c.modules(1))+1, "vectors of two layers and score")
			require.Equal(t, "base_model.model.score.modules_to_save.default.weight", r.params[len(r.params)-1].Param.Name)
			checkFiniteDifferences(t, b, r)
		})
	}
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := gptSeqClsRun(t, b, c)
					setTrainedLooking(t, b, r.params)
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
