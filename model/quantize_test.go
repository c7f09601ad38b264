package model

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/quant"
)

// quantTolerance bounds a quantized base's logits against the float32
// base's, relative to max(1, max|logits|). The weights themselves move by
// up to half a quantization step (Q8_0: amax/254 per block of 32, about
// 0.5 % of a weight's scale on average; NF4: about 10 %), and on the
// fixtures' tiny random models those errors add up over every layer to the
// measured 0.8–2.9 % (Q8_0) and 18–38 % (NF4) of the largest logit
// (docs/quantization.md lists them per case). The bounds leave under 2×
// room over the worst case. That the error is the quantization's and no
// kernel's is checked exactly: the quantized model's logits equal, within
// the float32 parity tolerance, those of a float model holding the
// dequantized weights.
var quantTolerance = map[quant.Format]float64{quant.Q8_0: 0.05, quant.NF4: 0.6}

// maskedMaxDiff returns max |a − b| over the positions CompareLogits counts,
// and max(1, max|b|) over them.
func maskedMaxDiff(a, b []float32, shape []int, mask []int32, task string) (diff, scale float64) {
	masked := task != "SEQ_2_SEQ_LM" && task != "SEQ_CLS" && len(shape) == 3 && mask != nil
	row := 1
	if len(shape) == 3 {
		row = shape[2]
	}
	scale = 1
	for i := range a {
		if masked && mask[i/row] == 0 {
			continue
		}
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// TestQuantizedFixtureLogits loads each fixture's base in float32 and
// quantized to Q8_0 and NF4, and compares the logits: within the stated
// tolerance of the float32 logits, the numbers logged per case and format
// (docs/quantization.md's table comes from this test's -v output).
func TestQuantizedFixtureLogits(t *testing.T) {
	b := testBackend(t)
	ctx := context.Background()
	for _, name := range []string{"bert", "gpt2", "llama", "t5"} {
		c := modeltest.NamedCase(t, name)
		t.Run(name, func(t *testing.T) {
			in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
			require.NoError(t, err)
			m, err := Load(ctx, filepath.Join(c.Dir, "base"), b)
			require.NoError(t, err)
			defer m.Free()
			want, shape := logitsOf(t, m, in)
			for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
				q, err := LoadWith(ctx, filepath.Join(c.Dir, "base"), b, LoadOptions{Quantize: f})
				require.NoError(t, err)
				assert.Equal(t, f, q.Quantized())
				n := 0
				for _, p := range q.Params() {
					if p.T.DType().IsQuantized() {
						n++
					}
				}
				assert.Positive(t, n, "quantized weights")
				got, gotShape := logitsOf(t, q, in)
				require.Equal(t, shape, gotShape)
				diff, scale := maskedMaxDiff(got, want, shape, in.AttentionMask, m.Config().TaskType)
				t.Logf("%s %v: %d weights quantized, max |logits − f32 logits| = %.4f (max |f32 logits| %.2f, relative %.4f, tolerance %.2f)",
					name, f, n, diff, scale, diff/scale, quantTolerance[f])
				assert.LessOrEqual(t, diff, quantTolerance[f]*scale, "%s %v", name, f)

				// The float model of the dequantized weights (Save writes
				// them) gives the same logits up to float32 rounding.
				dir := t.TempDir()
				require.NoError(t, q.Save(dir))
				deq, err := Load(ctx, dir, b)
				require.NoError(t, err)
				same, _ := logitsOf(t, deq, in)
				d, sc := maskedMaxDiff(got, same, shape, in.AttentionMask, m.Config().TaskType)
				assert.LessOrEqual(t, d, 1e-4*sc, "%s %v: quantized vs dequantized float model", name, f)
				deq.Free()
				q.Free()
			}
		})
	}
}

// TestQuantizedWeightSelection checks which weights a quantized GPT-2
// keeps quantized (the blocks' Conv1D layers, transposed to (out, in)) and
// that Save writes them dequantized in the checkpoint's (in, out) layout.
func TestQuantizedWeightSelection(t *testing.T) {
	b := testBackend(t)
	ctx := context.Background()
	c := modeltest.NamedCase(t, "gpt2")
	base := filepath.Join(c.Dir, "base")
	q, err := LoadWith(ctx, base, b, LoadOptions{Quantize: quant.NF4})
	require.NoError(t, err)
	defer q.Free()
	for _, nm := range q.Modules() {
		l, ok := nm.Module.(*nn.Linear)
		if !ok {
			continue
		}
		quantized := l.Weight.T.DType() == backend.NF4
		if nm.Name == "lm_head" {
			assert.False(t, quantized, "the LM head stays float")
			continue
		}
		assert.True(t, quantized, nm.Name)
		assert.Equal(t, "Conv1D", l.Type(), nm.Name)
		assert.True(t, l.Transposed && !l.FanInFanOut, nm.Name)
		assert.Equal(t, []int{l.Out, l.In}, l.Weight.T.Shape(), nm.Name)
	}
	for _, p := range q.Params() {
		if !p.T.DType().IsQuantized() {
			assert.Contains(t, []backend.DType{backend.F32}, p.T.DType(), p.Name)
		}
	}

	dir := t.TempDir()
	require.NoError(t, q.Save(dir))
	back, err := Load(ctx, dir, b)
	require.NoError(t, err)
	defer back.Free()
	f32, err := Load(ctx, base, b)
	require.NoError(t, err)
	defer f32.Free()
	for i, p := range q.Params() {
		saved, err := b.ToFloat32(back.Params()[i].T)
		require.NoError(t, err)
		if !p.T.DType().IsQuantized() {
			orig, err := b.ToFloat32(f32.Params()[i].T)
			require.NoError(t, err)
			assert.Equal(t, orig, saved, p.Name)
			continue
		}
		deq, err := b.ToFloat32(p.T) // (out, in)
		require.NoError(t, err)
		shape := back.Params()[i].T.Shape() // (in, out) as the checkpoint
		require.Equal(t, shape, []int{p.T.Shape()[1], p.T.Shape()[0]}, p.Name)
		assert.Equal(t, transpose(deq, shape[1], shape[0]), saved, p.Name)
	}
}

// TestQuantizeRefusals checks the device capability check.
func TestQuantizeRefusals(t *testing.T) {
	err := checkQuantizable(noQuantBackend{testBackend(t)}, quant.NF4)
	assert.ErrorContains(t, err, "does not take quantized weights")
	assert.NoError(t, checkQuantizable(noQuantBackend{testBackend(t)}, quant.None))
}

// noQuantBackend is a backend that reports no quantized-weight support.
type noQuantBackend struct{ backend.Backend }

func (n noQuantBackend) Info() backend.DeviceInfo {
	i := n.Backend.Info()
	i.QuantizedWeights = false
	return i
}

// allocated returns the CPU backend's count of tensor storage bytes.
func allocated(t *testing.T, b backend.Backend) uint64 {
	t.Helper()
	for {
		if r, ok := b.(interface{ AllocatedBytes() uint64 }); ok {
			return r.AllocatedBytes()
		}
		u, ok := b.(interface{ Unwrap() backend.Backend })
		require.True(t, ok, "%T counts no bytes", b)
		b = u.Unwrap()
	}
}

// TestWeightBytesMatchesAllocation checks WeightBytes, computed on a
// structure-only model, against the bytes the CPU backend counts once
// NewRandomWith has built the same model, for every weight storage, and
// against the memory plan's weights (PlanMemory, which leaves biases and
// norms out).
func TestWeightBytesMatchesAllocation(t *testing.T) {
	for _, name := range []string{"gpt2", "llama", "t5"} {
		c := modeltest.NamedCase(t, name)
		cfg, err := LoadConfig(filepath.Join(c.Dir, "base"))
		require.NoError(t, err)
		for _, o := range []RandomOptions{{}, {BF16: true}, {Quantize: quant.Q8_0}, {Quantize: quant.NF4}} {
			s, err := New(cfg, nil)
			require.NoError(t, err)
			want, err := s.WeightBytes(o)
			require.NoError(t, err)
			b := testBackend(t)
			m, err := NewRandomWith(cfg, b, 1, o)
			require.NoError(t, err)
			assert.Equal(t, uint64(want), allocated(t, b), "%s %+v", name, o)
			assert.Equal(t, o.Quantize, m.Quantized())
			po := PlanOptions{Batch: 1, Seq: 1, ProjBytesPerWeight: ProjBytesPerWeight(o.Quantize)}
			if o.BF16 {
				po.WeightBytes = 2
			}
			plan := cfg.PlanMemory(po)
			// Biases and norms, which the plan leaves out, are a few per cent
			// of these tiny models.
			assert.InEpsilon(t, float64(want), plan.Weights, 0.1, "%s %+v: plan %.0f", name, o, plan.Weights)
			m.Free()
			assert.Zero(t, allocated(t, b), "Free releases every weight")
		}
	}
}

// TestQuantizeInPlace quantizes a float32 GPT-2 built by NewRandom: the
// float storage of every quantized weight is freed (the bytes held equal
// WeightBytes' NF4 count), the Conv1D layers are transposed, and the logits
// equal those of a model built quantized from the same seed.
func TestQuantizeInPlace(t *testing.T) {
	c := modeltest.NamedCase(t, "gpt2")
	cfg, err := LoadConfig(filepath.Join(c.Dir, "base"))
	require.NoError(t, err)
	in, err := InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	b := testBackend(t)
	m, err := NewRandom(cfg, b, 3)
	require.NoError(t, err)
	defer m.Free()
	require.NoError(t, m.Quantize(quant.NF4))
	assert.Equal(t, quant.NF4, m.Quantized())
	s, err := New(cfg, nil)
	require.NoError(t, err)
	want, err := s.WeightBytes(RandomOptions{Quantize: quant.NF4})
	require.NoError(t, err)
	assert.Equal(t, uint64(want), allocated(t, b))
	l, ok := m.Module("transformer.h.0.attn.c_attn")
	require.True(t, ok)
	assert.True(t, l.(*nn.Linear).Transposed)
	require.NoError(t, m.Quantize(quant.NF4), "a second call leaves quantized weights alone")
	assert.Equal(t, uint64(want), allocated(t, b))

	got, _ := logitsOf(t, m, in)
	built, err := NewRandomWith(cfg, b, 3, RandomOptions{Quantize: quant.NF4})
	require.NoError(t, err)
	defer built.Free()
	same, _ := logitsOf(t, built, in)
	assert.Equal(t, same, got)
}

// TestQuantizedGenerate generates greedily with the KV cache on quantized
// bases (one token at a time: the streaming matrix-vector path): every row
// equals repeated full forward passes on the same quantized model.
func TestQuantizedGenerate(t *testing.T) {
	b := testBackend(t)
	prompts := [][]int32{{17, 42, 99}, {5, 6, 7, 8, 9, 10}}
	const n = 5
	for _, c := range generativeCases(t) {
		for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
			t.Run(c.Name+"/"+f.String(), func(t *testing.T) {
				m, err := LoadWith(context.Background(), filepath.Join(c.Dir, "base"), b, LoadOptions{Quantize: f})
				require.NoError(t, err)
				defer m.Free()
				got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, EOS: []int32{}})
				require.NoError(t, err)
				for r, p := range prompts {
					assert.Equal(t, greedyByFullForward(t, m, p, n), got[r], "row %d", r)
				}
			})
		}
	}
}

// TestProjBytesPerWeight checks the memory plan's bytes per quantized
// weight against the quant package's layout of a large matrix.
func TestProjBytesPerWeight(t *testing.T) {
	for _, f := range []quant.Format{quant.Q8_0, quant.NF4} {
		b, err := quant.StorageBytes(f, 4096, 4096)
		require.NoError(t, err)
		assert.InEpsilon(t, float64(b)/(4096*4096), ProjBytesPerWeight(f), 1e-6, "%v", f)
	}
	assert.Zero(t, ProjBytesPerWeight(quant.None))
}
