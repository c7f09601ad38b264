package train

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
)

// bartCase is a small random BART with PEFT's default (IA)³ targets for
// bart (q_proj, v_proj, fc2) and modules_to_save.
type bartCase struct {
	name, raw, task string
	save            string
}

const bartSizes = `"model_type":"bart","vocab_size":32,"d_model":16,"encoder_layers":2,"decoder_layers":2,
	"encoder_attention_heads":4,"decoder_attention_heads":4,"encoder_ffn_dim":24,"decoder_ffn_dim":24,
	"max_position_embeddings":16,"scale_embedding":true,"init_std":0.3`

var bartCases = []bartCase{
	{"generation", `{` + bartSizes + `}`, model.TaskSeq2SeqLM, "encoder_attn.out_proj"},
	{"classification", `{` + bartSizes + `,"architectures":["BartForSequenceClassification"],"num_labels":3}`,
		model.TaskSeqCls, "classification_head"},
}

// randomBART builds the case's base model with random weights.
func randomBART(t *testing.T, b backend.Backend, c bartCase, seed uint64) *model.Model {
	t.Helper()
	cfg, err := model.ParseConfig([]byte(c.raw))
	require.NoError(t, err)
	base, err := model.NewRandom(cfg, b, seed)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	return base
}

// bartRun attaches PEFT's default bart adapter with the case's
// modules_to_save to a right-padded batch whose rows each end in one EOS
// (2): labels with an ignored token for generation, classes else.
func bartRun(t *testing.T, b backend.Backend, c bartCase, seed uint64) fixtureRun {
	t.Helper()
	base := randomBART(t, b, c, seed)
	ic := ia3.NewConfig()
	ic.TaskType = c.task
	ic.ModulesToSave = []string{c.save}
	pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
	require.NoError(t, err)
	in := &model.Inputs{Batch: 2, Seq: 5, InputIDs: []int32{0, 7, 3, 9, 2, 0, 8, 2, 1, 1},
		AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}
	if c.task == model.TaskSeqCls {
		in.Labels = []int32{2, 0}
	} else {
		in.Labels = []int32{0, 11, 6, 2, 0, 30, 2, model.IgnoreIndex}
	}
	return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}
}

// bartWant lists the adapter file's keys: an ia3_l per targeted module of
// either stack, and the saved module's parameters.
func bartWant(base *model.Model, save string) []string {
	var want []string
	for _, p := range base.Params() {
		i := strings.LastIndex(p.Name, ".")
		if i < 0 {
			continue // final_logits_bias
		}
		mod := p.Name[:i]
		if mod == save || strings.HasSuffix(mod, "."+save) || strings.HasPrefix(mod, save+".") {
			// PEFT's state dict drops "modules_to_save.<adapter>".
			want = append(want, "base_model.model."+p.Name)
		}
	}
	targets, _ := ia3.DefaultTargetModules("bart")
	for _, nm := range base.Modules() {
		for _, tm := range targets {
			if strings.HasSuffix(nm.Name, "."+tm) && !strings.HasPrefix(nm.Name, "classification_head") {
				want = append(want, "base_model.model."+nm.Name+".ia3_l")
			}
		}
	}
	return want
}

// TestBARTGradients checks the gradients of every (IA)³ vector of both
// stacks and of the modules_to_save copies against finite differences of
// the seq2seq and classification losses.
func TestBARTGradients(t *testing.T) {
	b := openCPU(t)
	for _, c := range bartCases {
		t.Run(c.name, func(t *testing.T) {
			r := bartRun(t, b, c, 21)
			// Encoder: q, v, fc2; decoder: q, v of both attentions, fc2.
			saved := len(bartWant(r.base, c.save)) - 16
			require.Len(t, r.params, 16+saved, "trainable parameters")
			require.Positive(t, saved)
			checkFiniteDifferences(t, b, r)
		})
	}
}

// TestBARTAdapterRoundTrip sets every vector and saved copy away from its
// initial value, saves the adapter, checks that the file holds exactly
// PEFT's keys, loads it onto a fresh base model and compares the outputs,
// then merges and compares again, on the CPU and WebGPU.
func TestBARTAdapterRoundTrip(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range bartCases {
				t.Run(c.name, func(t *testing.T) {
					r := bartRun(t, b, c, 4)
					moveOffInit(t, b, r.params)
					checkAdapterRoundTrip(t, b, r, bartWant(r.base, c.save), randomBART(t, b, c, 4))
				})
			}
		})
	}
}

// TestBARTAllLinear checks "all-linear" as PEFT resolves it for BART:
// every Linear but lm_head for generation; for classification every Linear
// including classification_head.dense and out_proj, since PEFT only leaves
// out a head named classifier or score.
func TestBARTAllLinear(t *testing.T) {
	b := openCPU(t)
	for _, c := range bartCases {
		t.Run(c.name, func(t *testing.T) {
			base := randomBART(t, b, c, 1)
			ic := ia3.NewConfig()
			ic.TaskType = c.task
			ic.TargetModules = ia3.Pattern("all-linear")
			ic.FeedforwardModules = ia3.Names("fc2")
			pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
			require.NoError(t, err)
			var got []string
			for _, p := range pm.TrainableParams() {
				if m, ok := strings.CutSuffix(p.Name, ".ia3_l."+ia3.DefaultAdapter); ok {
					got = append(got, strings.TrimPrefix(m, "base_model.model."))
				}
			}
			// 2 encoder layers × 6 Linears, 2 decoder layers × 10.
			want := 32
			if c.task == model.TaskSeqCls {
				want += 2
				require.Contains(t, got, "classification_head.dense")
				require.Contains(t, got, "classification_head.out_proj")
			}
			require.Len(t, got, want)
			require.NotContains(t, got, "lm_head")
		})
	}
}

// moveOffInit adds 0.1·((i+j) mod 7 − 3) to element j of trainable
// parameter i, so that a round trip shows every vector and saved copy.
func moveOffInit(t *testing.T, b backend.Backend, params []ia3.NamedParam) {
	t.Helper()
	for i, p := range params {
		v, err := b.ToFloat32(p.Param.T)
		require.NoError(t, err)
		for j := range v {
			v[j] += 0.1 * float32((i+j)%7-3)
		}
		nt, err := b.FromFloat32(v, p.Param.T.Shape()...)
		require.NoError(t, err)
		b.Free(p.Param.T)
		p.Param.T = nt
	}
}
