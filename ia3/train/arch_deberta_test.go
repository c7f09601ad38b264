package train

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// debertaCase is a small random DeBERTa classifier with PEFT's default
// (IA)³ targets for its model type; save adds modules to modules_to_save
// beside the classifier PEFT's SEQ_CLS adds.
type debertaCase struct {
	name, raw string
	save      []string
	vectors   int // (IA)³ vectors of the two layers
}

const debertaSizes = `"vocab_size":32,"hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,
	"intermediate_size":24,"max_position_embeddings":32,"initializer_range":0.3,"num_labels":3`

var debertaCases = []debertaCase{
	// DeBERTa-v3's layout scaled down: log buckets, shared keys (key_proj's
	// vector also scales the c2p position keys), norm_rel_ebd, no absolute
	// positions; key_proj, value_proj and both output.dense per layer.
	{"deberta-v3 like", `{"model_type":"deberta-v2","architectures":["DebertaV2ForSequenceClassification"],` + debertaSizes + `,
		"relative_attention":true,"position_buckets":8,"max_relative_positions":16,"share_att_key":true,
		"pos_att_type":["p2c","c2p"],"norm_rel_ebd":"layer_norm","position_biased_input":false}`, nil, 8},
	// With the pooler saved too: its dense layer trains.
	{"deberta-v2 pooler saved", `{"model_type":"deberta-v2","architectures":["DebertaV2ForSequenceClassification"],` + debertaSizes + `,
		"relative_attention":true,"max_relative_positions":4,"pos_att_type":"c2p|p2c","type_vocab_size":2,
		"embedding_size":12,"pooler_hidden_act":"tanh"}`, []string{"pooler"}, 8},
	// v1: in_proj and both output.dense per layer.
	{"deberta", `{"model_type":"deberta","architectures":["DebertaForSequenceClassification"],` + debertaSizes + `,
		"relative_attention":true,"max_relative_positions":5,"pos_att_type":"c2p|p2c"}`, nil, 6},
	// deberta-v2-xlarge's layout: v3's plus the ConvLayer after layer 0.
	{"deberta-v2 xlarge like", `{"model_type":"deberta-v2","architectures":["DebertaV2ForSequenceClassification"],` + debertaSizes + `,
		"relative_attention":true,"position_buckets":8,"max_relative_positions":16,"share_att_key":true,
		"pos_att_type":["p2c","c2p"],"norm_rel_ebd":"layer_norm","position_biased_input":false,
		"conv_kernel_size":3,"conv_act":"gelu"}`, nil, 8},
	// v1 with talking heads: head_logits_proj/head_weights_proj mix the heads.
	{"deberta talking heads", `{"model_type":"deberta","architectures":["DebertaForSequenceClassification"],` + debertaSizes + `,
		"relative_attention":true,"max_relative_positions":5,"pos_att_type":"c2p|p2c","talking_head":true}`, nil, 6},
}

// debertaRun attaches the case's adapter to a batch of a whole row, a
// right-padded one and a left-padded one (whose pooled token 0 is padding,
// attending uniformly as in transformers 5).
func debertaRun(t *testing.T, b backend.Backend, c debertaCase, seed uint64) fixtureRun {
	t.Helper()
	base := randomDeBERTa(t, b, c, seed)
	ic := ia3.NewConfig()
	ic.TaskType = model.TaskSeqCls
	ic.ModulesToSave = c.save
	pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
	require.NoError(t, err)
	in := &model.Inputs{Batch: 3, Seq: 7,
		InputIDs:      []int32{1, 7, 3, 9, 2, 5, 6, 1, 8, 4, 2, 0, 0, 0, 0, 0, 1, 11, 12, 13, 2},
		AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1},
		Labels:        []int32{2, 0, 1}}
	return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}
}

func randomDeBERTa(t *testing.T, b backend.Backend, c debertaCase, seed uint64) *model.Model {
	t.Helper()
	cfg, err := model.ParseConfig([]byte(c.raw))
	require.NoError(t, err)
	base, err := model.NewRandom(cfg, b, seed)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	return base
}

// debertaWant lists the adapter file's keys as PEFT writes them: an ia3_l
// per module PEFT's defaults match (a name equal to a target or ending in
// "."+target, so "output.dense" matches attention.output.dense too) and
// the saved modules' parameters.
func debertaWant(t *testing.T, base *model.Model, save []string) []string {
	var want []string
	saved := append([]string{"classifier"}, save...)
	for _, p := range base.Params() {
		for _, s := range saved {
			if strings.HasPrefix(p.Name, s+".") {
				want = append(want, "base_model.model."+p.Name)
			}
		}
	}
	targets, ok := ia3.DefaultTargetModules(base.Config().ModelType)
	require.True(t, ok)
	for _, nm := range base.Modules() {
		for _, tm := range targets {
			if strings.HasSuffix(nm.Name, "."+tm) {
				want = append(want, "base_model.model."+nm.Name+".ia3_l")
			}
		}
	}
	return want
}

// TestDeBERTaDefaultTargets checks which modules PEFT's defaults adapt:
// key_proj and value_proj (v2) or in_proj (v1) scaling outputs, and both
// attention.output.dense and output.dense scaling inputs, since PEFT
// matches "output.dense" by suffix and lists it as feed-forward.
func TestDeBERTaDefaultTargets(t *testing.T) {
	b := openCPU(t)
	for _, c := range debertaCases {
		t.Run(c.name, func(t *testing.T) {
			r := debertaRun(t, b, c, 2)
			var got []string
			for _, p := range r.params {
				if m, ok := strings.CutSuffix(p.Name, ".ia3_l."+ia3.DefaultAdapter); ok {
					got = append(got, strings.TrimPrefix(m, "base_model.model.deberta.encoder.layer.0."))
				}
			}
			require.Len(t, got, c.vectors)
			want := []string{"attention.self.key_proj", "attention.self.value_proj", "attention.output.dense", "output.dense"}
			if r.base.Config().ModelType == "deberta" {
				want = []string{"attention.self.in_proj", "attention.output.dense", "output.dense"}
			}
			assert.Equal(t, want, got[:len(want)])
			for _, l := range r.pm.Layers() {
				assert.Equal(t, strings.HasSuffix(l.Name, "output.dense"), l.Feedforward, l.Name)
			}
		})
	}
}

// TestDeBERTaGradients checks the gradients of every (IA)³ vector and of
// the modules_to_save copies (the classifier, and the pooler where saved)
// against finite differences of the classification loss.
func TestDeBERTaGradients(t *testing.T) {
	b := openCPU(t)
	for _, c := range debertaCases {
		t.Run(c.name, func(t *testing.T) {
			r := debertaRun(t, b, c, 21)
			require.Len(t, r.params, len(debertaWant(t, r.base, c.save)), "trainable parameters")
			checkFiniteDifferences(t, b, r)
		})
	}
}

// TestDeBERTaAdapterRoundTrip moves every vector and saved copy off its
// initial value, saves the adapter, checks that the file holds exactly
// PEFT's keys, loads it onto a fresh base and compares the logits, then
// merges and compares again, on the CPU and WebGPU.
func TestDeBERTaAdapterRoundTrip(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range debertaCases {
				t.Run(c.name, func(t *testing.T) {
					r := debertaRun(t, b, c, 4)
					moveOffInit(t, b, r.params)
					checkAdapterRoundTrip(t, b, r, debertaWant(t, r.base, c.save), randomDeBERTa(t, b, c, 4))
				})
			}
		})
	}
}

// TestDeBERTaAllLinear checks "all-linear" as PEFT resolves it for DeBERTa:
// every Linear but the classifier (the output layer PEFT leaves out), so
// the position projections, embed_proj and pooler.dense are adapted.
func TestDeBERTaAllLinear(t *testing.T) {
	b := openCPU(t)
	for _, tc := range []struct {
		c    debertaCase
		want int
	}{
		// 2 layers × (query, key, value, attention.output.dense, intermediate, output.dense) + pooler.dense.
		{debertaCases[0], 13},
		// also pos_key_proj and pos_query_proj per layer, and embed_proj.
		{debertaCases[1], 18},
		// 2 layers × (in_proj, pos_proj, pos_q_proj, attention.output.dense, intermediate, output.dense) + pooler.
		{debertaCases[2], 13},
	} {
		t.Run(tc.c.name, func(t *testing.T) {
			base := randomDeBERTa(t, b, tc.c, 1)
			ic := ia3.NewConfig()
			ic.TaskType = model.TaskSeqCls
			ic.TargetModules = ia3.Pattern("all-linear")
			ic.FeedforwardModules = ia3.Names("output.dense")
			pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
			require.NoError(t, err)
			var got []string
			for _, p := range pm.TrainableParams() {
				if m, ok := strings.CutSuffix(p.Name, ".ia3_l."+ia3.DefaultAdapter); ok {
					got = append(got, strings.TrimPrefix(m, "base_model.model."))
				}
			}
			assert.Len(t, got, tc.want)
			assert.Contains(t, got, "pooler.dense")
			assert.NotContains(t, got, "classifier")
		})
	}
}

// TestDeBERTaGradientsOnEveryDevice checks that WebGPU's gradients of the
// vectors and the classifier (through the c2p/p2c gathers' scatter-add
// backward and the padding-query rows) equal the CPU's, which
// TestDeBERTaGradients checks against finite differences.
func TestDeBERTaGradientsOnEveryDevice(t *testing.T) {
	cpu := openCPU(t)
	for _, d := range devices()[1:] {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range debertaCases {
				t.Run(c.name, func(t *testing.T) {
					want := debertaRun(t, cpu, c, 31)
					moveOffInit(t, cpu, want.params)
					wg, _ := reducedGrads(t, cpu, stepperFor(t, cpu, want, 0), want.in)
					r := debertaRun(t, b, c, 31)
					moveOffInit(t, b, r.params)
					got, _ := reducedGrads(t, b, stepperFor(t, b, r, 0), r.in)
					require.Len(t, got, len(wg))
					for i := range wg {
						assert.LessOrEqual(t, maxDiff(wg[i], got[i]), 1e-4*math.Max(1e-3, maxAbs(wg[i])), r.params[i].Name)
					}
				})
			}
		})
	}
}

// TestDeBERTaParamCounts checks PEFT's get_nb_trainable_parameters counts
// for v1, whose attention.self holds q_bias and v_bias itself: every base
// parameter is counted and frozen, and the vectors and classifier train.
func TestDeBERTaParamCounts(t *testing.T) {
	b := openCPU(t)
	r := debertaRun(t, b, debertaCases[2], 1)
	var base int64
	for _, p := range r.base.Params() {
		base += int64(p.T.Len())
		if !strings.HasPrefix(p.Name, "classifier.") {
			assert.False(t, p.Trainable, p.Name)
		}
	}
	trainable, all := r.pm.ParamCounts()
	// Per layer: in_proj's 48 outputs, attention.output.dense's 16 and
	// output.dense's 24 inputs; the classifier copy: 3·16 + 3.
	assert.Equal(t, int64(2*(48+16+24)+51), trainable)
	assert.Equal(t, base+trainable, all)
}
