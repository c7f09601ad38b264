package model

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

func mustConfig(t *testing.T, js string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(js))
	require.NoError(t, err)
	return c
}

const tinyRoberta = `{"model_type":"roberta","architectures":["RobertaForSequenceClassification"],"hidden_size":16,
	"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":32,"vocab_size":20,"max_position_embeddings":16,
	"num_labels":1,"initializer_range":0.3}`

// TestRegressionLossIsMSE checks the num_labels == 1 path: the loss is the
// mean squared error of the single logit against LabelsFloat.
func TestRegressionLossIsMSE(t *testing.T) {
	b := testBackend(t)
	m, err := NewRandom(mustConfig(t, tinyRoberta), b, 7)
	require.NoError(t, err)
	defer m.Free()
	in := &Inputs{Batch: 2, Seq: 4, InputIDs: []int32{0, 5, 6, 2, 0, 7, 2, 1},
		AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 0}, LabelsFloat: []float32{0.5, -1.25}}
	logits, shape := logitsOf(t, m, in)
	require.Equal(t, []int{2, 1}, shape)
	want := (math.Pow(float64(logits[0])-0.5, 2) + math.Pow(float64(logits[1])+1.25, 2)) / 2
	assert.InDelta(t, want, lossOf(t, m, in), 1e-6)
}

// TestNewRandomIsReproducible checks seeds, shapes and the initialisation
// rules (unit norms, zero biases).
func TestNewRandomIsReproducible(t *testing.T) {
	b := testBackend(t)
	cfg := mustConfig(t, tinyRoberta)
	m1, err := NewRandom(cfg, b, 1)
	require.NoError(t, err)
	m2, err := NewRandom(cfg, b, 1)
	require.NoError(t, err)
	m3, err := NewRandom(cfg, b, 2)
	require.NoError(t, err)
	for i, p := range m1.Params() {
		v1, err := b.ToFloat32(p.T)
		require.NoError(t, err)
		v2, _ := b.ToFloat32(m2.Params()[i].T)
		v3, _ := b.ToFloat32(m3.Params()[i].T)
		assert.Equal(t, v1, v2, p.Name)
		switch p.Name {
		case "roberta.embeddings.LayerNorm.weight":
			assert.Equal(t, float32(1), v1[0])
		case "classifier.dense.bias":
			assert.Equal(t, float32(0), v1[3])
		case "roberta.embeddings.word_embeddings.weight":
			assert.NotEqual(t, v1, v3)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	b := testBackend(t)
	gpt2 := `{"model_type":"gpt2","n_embd":8,"n_head":2,"n_layer":1,"vocab_size":10,"n_positions":4}`
	m, err := NewRandom(mustConfig(t, gpt2), b, 1)
	require.NoError(t, err)
	defer m.Free()
	structure, err := New(mustConfig(t, gpt2), nil)
	require.NoError(t, err)
	ok := func() *Inputs { return &Inputs{Batch: 1, Seq: 2, InputIDs: []int32{1, 2}, Labels: []int32{1, 2}} }
	tests := []struct {
		name  string
		model *Model
		grad  bool
		in    func() *Inputs
		cache bool
		want  string
	}{
		{"structure only", structure, false, ok, false, "structure-only model"},
		{"id out of vocab", m, false, func() *Inputs { in := ok(); in.InputIDs[1] = 10; return in }, false, "input_ids[1] = 10 is outside [0, 10)"},
		{"short ids", m, false, func() *Inputs { in := ok(); in.InputIDs = in.InputIDs[:1]; return in }, false, "input_ids has 1 entries, want 2"},
		{"bad mask", m, false, func() *Inputs { in := ok(); in.AttentionMask = []int32{1, 2}; return in }, false, "attention_mask[1] = 2"},
		{"too long", m, false, func() *Inputs {
			return &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{1, 2, 3, 4, 5}}
		}, false, "past n_positions 4"},
		{"cache with gradients", m, true, ok, true, "without gradients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := nn.NewGraph(b, tt.grad)
			defer g.Release()
			var c *KVCache
			if tt.cache {
				c, err = tt.model.NewCache(1)
				require.NoError(t, err)
				defer c.Free()
			}
			out := tt.model.ForwardCached(g, tt.in(), c)
			assert.Nil(t, out)
			require.Error(t, g.Err())
			assert.Contains(t, g.Err().Error(), tt.want)
		})
	}
	t.Run("label out of range", func(t *testing.T) {
		g := nn.NewGraph(b, false)
		defer g.Release()
		in := ok()
		in.Labels[0] = 11
		assert.Nil(t, m.Loss(g, in))
		assert.ErrorContains(t, g.Err(), "label[0] = 11 is outside [0, 10)")
	})
}

// TestHeadGradients marks each case's output head trainable (as a
// modules_to_save copy is), runs Loss and Backward, and checks that the
// head gets a finite, non-zero gradient and frozen weights get none.
func TestHeadGradients(t *testing.T) {
	b := testBackend(t)
	for _, c := range modeltest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			var head *nn.Linear
			for _, nm := range m.Modules() {
				if l, ok := nm.Module.(*nn.Linear); ok && (nm.Name == "lm_head" || nm.Name == "classifier" || nm.Name == "classifier.out_proj") {
					head = l
				}
			}
			require.NotNil(t, head)
			head.Weight.Trainable = true
			defer func() { head.Weight.Trainable = false }()
			g := nn.NewGraph(b, true)
			defer g.Release()
			loss := m.Loss(g, in)
			require.NoError(t, g.Err())
			require.NoError(t, g.Backward(loss))
			grad := g.ParamGrad(head.Weight)
			require.NotNil(t, grad)
			v, err := b.ToFloat32(grad)
			require.NoError(t, err)
			var norm float64
			for _, x := range v {
				require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0))
				norm += float64(x) * float64(x)
			}
			assert.Greater(t, norm, 0.0)
			for _, p := range m.Params() {
				if p != head.Weight {
					assert.Nil(t, g.ParamGrad(p), p.Name)
				}
			}
		})
	}
}

// TestT5DecoderInputsFromLabels drops the fixture's decoder_input_ids and
// checks that shifting the labels right (transformers' _shift_right)
// gives the same logits and loss.
func TestT5DecoderInputsFromLabels(t *testing.T) {
	c := fixtureCase(t, "t5")
	b := testBackend(t)
	m, err := Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	defer m.Free()
	in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	require.NotNil(t, in.DecoderInputIDs)
	want, _ := logitsOf(t, m, in)
	wantLoss := lossOf(t, m, in)
	shifted := *in
	shifted.DecoderInputIDs, shifted.DecoderSeq = nil, 0
	got, shape := logitsOf(t, m, &shifted)
	assert.Equal(t, []int{in.Batch, len(in.Labels) / in.Batch, m.Config().VocabSize}, shape)
	assert.Equal(t, want, got)
	assert.Equal(t, wantLoss, lossOf(t, m, &shifted))
}

// TestBareEncoderReturnsHiddenStates runs BertModel (no head).
func TestBareEncoderReturnsHiddenStates(t *testing.T) {
	b := testBackend(t)
	m, err := NewRandom(mustConfig(t, `{"model_type":"bert","architectures":["BertModel"],"hidden_size":16,
		"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":32,"vocab_size":20,"max_position_embeddings":8}`), b, 3)
	require.NoError(t, err)
	defer m.Free()
	assert.Equal(t, TaskFeatureExtraction, m.Config().TaskType)
	assert.Equal(t, "", m.OutputLayer())
	_, shape := logitsOf(t, m, &Inputs{Batch: 2, Seq: 3, InputIDs: []int32{1, 2, 3, 4, 5, 6}, TokenTypeIDs: []int32{0, 0, 1, 0, 1, 1}})
	assert.Equal(t, []int{2, 3, 16}, shape)
}

func TestRopeInvFreq(t *testing.T) {
	base := ropeInvFreq(RopeConfig{Theta: 10000, Type: "default"}, 8)
	assert.Equal(t, []float32{1, 0.1, 0.01, 0.001}, base)
	linear := ropeInvFreq(RopeConfig{Theta: 10000, Type: "linear", Factor: 4}, 8)
	assert.InDeltaSlice(t, []float32{0.25, 0.025, 0.0025, 0.00025}, linear, 1e-9)
	// Llama 3 with original context 16 and factors low 1, high 4: the
	// wavelengths 2π/f are 6.3, 63, 628 and 6283; above 16/1 = 16 the
	// frequency is divided by the factor, between 16/4 = 4 and 16 it is
	// interpolated.
	l3 := ropeInvFreq(RopeConfig{Theta: 10000, Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 16}, 8)
	smooth := (16/(2*math.Pi) - 1) / 3
	assert.InDeltaSlice(t, []float32{float32((1-smooth)/8 + smooth), 0.1 / 8, 0.01 / 8, 0.001 / 8}, l3, 1e-7)
}
