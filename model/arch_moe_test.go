package model

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
	"github.com/ia3/ia3/quant"
)

// refMoE is a float64 transcription of MixtralSparseMoeBlock for one
// token h: router logits, softmax over every expert, the top k
// probabilities (a stable sort, so equal ones go to the lower index),
// renormalised to sum to 1, and the weighted sum of those experts'
// w2(silu(w1 h) ⊙ w3 h).
func refMoE(c *Config, p func(string) []float64, pre string, h []float64) []float64 {
	E, H, I := c.NumExperts, c.Hidden, c.Intermediate
	lin := func(x, w []float64, out int) []float64 { return refLinear(x, w, nil, out) }
	logits := lin(h, p(pre+"gate.weight"), E)
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	probs := make([]float64, E)
	sum := 0.0
	for i, v := range logits {
		probs[i] = math.Exp(v - mx)
		sum += probs[i]
	}
	idx := make([]int, E)
	for i := range idx {
		idx[i] = i
		probs[i] /= sum
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	top := idx[:c.ExpertsPerToken]
	norm := 0.0
	for _, e := range top {
		norm += probs[e]
	}
	out := make([]float64, H)
	for _, e := range top {
		q := fmt.Sprintf("%sexperts.%d.", pre, e)
		g, u := lin(h, p(q+"w1.weight"), I), lin(h, p(q+"w3.weight"), I)
		for i := range g {
			g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
		}
		y := lin(g, p(q+"w2.weight"), H)
		for i := range y {
			out[i] += probs[e] / norm * y[i]
		}
	}
	return out
}

// TestRouteTopK checks the expert choice against torch.topk's on the
// cases that matter: distinct values, ties (the lower index first), a NaN
// logit (softmax all NaN, so all tied) and k equal to the expert count.
func TestRouteTopK(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name   string
		logits []float32
		e, k   int
		want   []int
	}{
		{"distinct", []float32{0.1, 0.9, -2, 0.5}, 4, 2, []int{1, 3}},
		{"two tokens", []float32{3, 2, 1, 1, 2, 3}, 3, 1, []int{0, 2}},
		{"tie at the boundary", []float32{0.5, 0.2, 0.2, 0.2}, 4, 2, []int{0, 1}},
		{"all equal", []float32{1, 1, 1, 1}, 4, 3, []int{0, 1, 2}},
		{"tie on top", []float32{0, 4, 4, 1}, 4, 1, []int{1}},
		{"nan: all-NaN softmax, the first k", []float32{-1, nan, 3}, 3, 2, []int{0, 1}},
		{"all experts", []float32{-1, 2, 0}, 3, 3, []int{1, 2, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, route(tc.logits, len(tc.logits)/tc.e, tc.e, tc.k))
		})
	}
}

// TestMixtralModuleNames checks Mixtral's module tree against
// transformers 4's per-expert layout, the names PEFT's default IA3
// target w2 matches.
func TestMixtralModuleNames(t *testing.T) {
	m, err := NewRandom(tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 3, "num_hidden_layers": 1}), testBackend(t), 1)
	require.NoError(t, err)
	defer m.Free()
	var got []string
	for _, nm := range m.Modules() {
		got = append(got, nm.Name+" "+nm.Module.Type())
	}
	want := []string{" MixtralForCausalLM", "model MixtralModel", "model.embed_tokens Embedding", "model.layers ModuleList",
		"model.layers.0 MixtralDecoderLayer", "model.layers.0.self_attn MixtralAttention",
		"model.layers.0.self_attn.q_proj Linear", "model.layers.0.self_attn.k_proj Linear",
		"model.layers.0.self_attn.v_proj Linear", "model.layers.0.self_attn.o_proj Linear",
		"model.layers.0.block_sparse_moe MixtralSparseMoeBlock", "model.layers.0.block_sparse_moe.gate Linear",
		"model.layers.0.block_sparse_moe.experts ModuleList"}
	for e := 0; e < 3; e++ {
		q := fmt.Sprintf("model.layers.0.block_sparse_moe.experts.%d", e)
		want = append(want, q+" MixtralBlockSparseTop2MLP", q+".w1 Linear", q+".w2 Linear", q+".w3 Linear", q+".act_fn SiLU")
	}
	want = append(want, "model.layers.0.input_layernorm MixtralRMSNorm", "model.layers.0.post_attention_layernorm MixtralRMSNorm",
		"model.norm MixtralRMSNorm", "model.rotary_emb MixtralRotaryEmbedding", "lm_head Linear")
	assert.Equal(t, want, got)
}

// TestMixtralRoutingTies gives every expert the same router row, so all
// logits tie: the first k experts must run (the lower index wins), and
// the others' weights must not matter, on every backend.
func TestMixtralRoutingTies(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			m, err := NewRandom(tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 4, "num_experts_per_tok": 2}), b, 4)
			require.NoError(t, err)
			defer m.Free()
			set := func(name string, f func(i int) float32) {
				editParam(t, m, name, func(v []float32) {
					for i := range v {
						v[i] = f(i)
					}
				})
			}
			for l := 0; l < 2; l++ {
				set(fmt.Sprintf("model.layers.%d.block_sparse_moe.gate.weight", l), func(i int) float32 {
					return float32(math.Sin(float64(i % 16)))
				})
			}
			in := &Inputs{Batch: 1, Seq: 5, InputIDs: []int32{3, 1, 4, 1, 5}}
			before, _ := logitsOf(t, m, in)
			assert.LessOrEqual(t, maxAbsDiff(refDecoder(t, m, in), before), 2e-4*math.Max(1, maxAbsOf(before)))
			for l := 0; l < 2; l++ {
				for e := 2; e < 4; e++ {
					set(fmt.Sprintf("model.layers.%d.block_sparse_moe.experts.%d.w2.weight", l, e), func(i int) float32 { return 7 })
				}
			}
			after, _ := logitsOf(t, m, in)
			assert.Equal(t, before, after)
			for l := 0; l < 2; l++ {
				set(fmt.Sprintf("model.layers.%d.block_sparse_moe.experts.1.w2.weight", l), func(i int) float32 { return 0.5 })
			}
			changed, _ := logitsOf(t, m, in)
			assert.Greater(t, maxAbsDiff(before, changed), 1e-3)
		})
	}
}

// fuseMixtral rewrites the Mixtral checkpoint in dir (transformers 4's
// per-expert layout) into transformers 5's in a new directory: the router
// as mlp.gate.weight, and per layer mlp.experts.gate_up_proj [E, 2I, H]
// (each expert's w1 then w3) and mlp.experts.down_proj [E, H, I], written
// in dtype (F32 or BF16, truncating).
func fuseMixtral(t *testing.T, dir string, c *Config, dtype string) string {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	defer f.Close()
	conv := func(v []float32) []byte { return encodeAs(dtype, v) }
	var ts []safetensors.Tensor
	fused := map[string][]byte{}
	for _, name := range f.Names() {
		v, err := f.Float32(name)
		require.NoError(t, err)
		info, _ := f.Info(name)
		if sm := expertWeight.FindStringSubmatch(name); sm != nil {
			continue
		}
		ts = append(ts, safetensors.Tensor{Name: strings.Replace(name, "block_sparse_moe.gate", "mlp.gate", 1),
			DType: dtype, Shape: info.Shape, Data: conv(v)})
	}
	E, H, I := c.NumExperts, c.Hidden, c.Intermediate
	for l := 0; l < c.Layers; l++ {
		for e := 0; e < E; e++ {
			for _, w := range []string{"w1", "w3", "w2"} {
				v, err := f.Float32(fmt.Sprintf("model.layers.%d.block_sparse_moe.experts.%d.%s.weight", l, e, w))
				require.NoError(t, err)
				key := fmt.Sprintf("model.layers.%d.mlp.experts.gate_up_proj", l)
				if w == "w2" {
					key = fmt.Sprintf("model.layers.%d.mlp.experts.down_proj", l)
				}
				fused[key] = append(fused[key], conv(v)...)
			}
		}
		ts = append(ts,
			safetensors.Tensor{Name: fmt.Sprintf("model.layers.%d.mlp.experts.gate_up_proj", l), DType: dtype,
				Shape: []int{E, 2 * I, H}, Data: fused[fmt.Sprintf("model.layers.%d.mlp.experts.gate_up_proj", l)]},
			safetensors.Tensor{Name: fmt.Sprintf("model.layers.%d.mlp.experts.down_proj", l), DType: dtype,
				Shape: []int{E, H, I}, Data: fused[fmt.Sprintf("model.layers.%d.mlp.experts.down_proj", l)]})
	}
	return writeBeside(t, dir, ts)
}

// encodeAs packs v as F32 or as BF16 (truncating).
func encodeAs(dtype string, v []float32) []byte {
	b := safetensors.F32Tensor("", []int{len(v)}, v).Data
	if dtype == safetensors.F32 {
		return b
	}
	out := make([]byte, 0, len(b)/2)
	for i := 0; i < len(b); i += 4 {
		out = append(out, b[i+2], b[i+3])
	}
	return out
}

// writeBeside writes tensors as the checkpoint of a new directory with
// dir's config.json.
func writeBeside(t *testing.T, dir string, ts []safetensors.Tensor) string {
	t.Helper()
	out := t.TempDir()
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "config.json"), js, 0o600))
	require.NoError(t, safetensors.Write(filepath.Join(out, safetensors.SingleFileName), ts, safetensors.DefaultMetadata()))
	return out
}

// TestMixtralLoadsFusedExperts saves a random Mixtral model in
// transformers 4's per-expert layout, rewrites it into transformers 5's
// fused layout, in F32 and BF16, and checks that both load to the same
// logits on every backend, and that a model loaded from the fused layout
// saves the per-expert names in the checkpoint's dtype.
func TestMixtralLoadsFusedExperts(t *testing.T) {
	cfg := tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 3, "num_experts_per_tok": 2})
	src, err := NewRandom(cfg, testBackend(t), 8)
	require.NoError(t, err)
	randomNorms(t, src, 2)
	perExpert := t.TempDir()
	require.NoError(t, src.Save(perExpert))
	src.Free()
	in := &Inputs{Batch: 1, Seq: 6, InputIDs: []int32{5, 9, 2, 33, 7, 1}}
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, dtype := range []string{safetensors.F32, safetensors.BF16} {
				t.Run(dtype, func(t *testing.T) {
					a := perExpert
					if dtype != safetensors.F32 {
						a = rewriteDType(t, perExpert, dtype)
					}
					fused := fuseMixtral(t, perExpert, cfg, dtype)
					ma, err := Load(context.Background(), a, b)
					require.NoError(t, err)
					defer ma.Free()
					mf, err := Load(context.Background(), fused, b)
					require.NoError(t, err)
					defer mf.Free()
					want, _ := logitsOf(t, ma, in)
					got, _ := logitsOf(t, mf, in)
					assert.Equal(t, want, got)

					out := t.TempDir()
					require.NoError(t, mf.Save(out))
					f, err := safetensors.Open(filepath.Join(out, safetensors.SingleFileName))
					require.NoError(t, err)
					defer f.Close()
					g, err := safetensors.Open(filepath.Join(perExpert, safetensors.SingleFileName))
					require.NoError(t, err)
					defer g.Close()
					assert.ElementsMatch(t, g.Names(), f.Names())
					info, _ := f.Info("model.layers.1.block_sparse_moe.experts.2.w3.weight")
					assert.Equal(t, dtype, info.DType)
				})
			}
		})
	}
}

// rewriteDType copies the checkpoint in dir with every tensor converted
// to BF16 (truncating), as a BF16 per-expert checkpoint.
func rewriteDType(t *testing.T, dir, dtype string) string {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	defer f.Close()
	var ts []safetensors.Tensor
	for _, name := range f.Names() {
		v, err := f.Float32(name)
		require.NoError(t, err)
		info, _ := f.Info(name)
		ts = append(ts, safetensors.Tensor{Name: name, DType: dtype, Shape: info.Shape, Data: encodeAs(dtype, v)})
	}
	return writeBeside(t, dir, ts)
}

// TestMixtralFusedExpertsShapeError checks that a fused tensor of the
// wrong shape is an error naming it.
func TestMixtralFusedExpertsShapeError(t *testing.T) {
	cfg := tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 3})
	src, err := NewRandom(cfg, testBackend(t), 8)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, src.Save(dir))
	src.Free()
	bad := *cfg
	bad.NumExperts = 2
	fused := fuseMixtral(t, dir, &bad, safetensors.F32)
	_, err = Load(context.Background(), fused, testBackend(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `tensor "model.layers.0.mlp.experts.gate_up_proj" has shape [2 48 16], the model expects [3 48 16]`)
}

// TestMixtralQuantizesFusedExperts checks that quantizing on load gives
// the same model from either checkpoint layout.
func TestMixtralQuantizesFusedExperts(t *testing.T) {
	cfg := tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 3, "hidden_size": 32, "intermediate_size": 64})
	b := testBackend(t)
	src, err := NewRandom(cfg, b, 8)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, src.Save(dir))
	src.Free()
	in := &Inputs{Batch: 1, Seq: 4, InputIDs: []int32{5, 9, 2, 33}}
	var logits [][]float32
	for _, d := range []string{dir, fuseMixtral(t, dir, cfg, safetensors.F32)} {
		m, err := LoadWith(context.Background(), d, b, LoadOptions{Quantize: quant.Q8_0})
		require.NoError(t, err)
		for _, p := range m.Params() {
			if p.Name == "model.layers.0.block_sparse_moe.experts.1.w2.weight" {
				assert.True(t, p.T.DType().IsQuantized(), p.Name)
			}
		}
		v, _ := logitsOf(t, m, in)
		logits = append(logits, v)
		m.Free()
	}
	assert.Equal(t, logits[0], logits[1])
}

// TestMixtralSizes checks that the memory plan counts every expert: the
// (IA)³ vectors (k, v and each expert's w2) and the projection weights.
func TestMixtralSizes(t *testing.T) {
	c := tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 3})
	assert.Equal(t, 2*(2*16+3*24.0), c.ApproxIA3Params())
	m, err := New(c, nil)
	require.NoError(t, err)
	var proj int
	for _, p := range m.Params() {
		if strings.Contains(p.Name, "layers.") && !strings.Contains(p.Name, "norm") {
			n := 1
			shape, _ := m.ParamShape(p.Name)
			for _, d := range shape {
				n *= d
			}
			proj += n
		}
	}
	_, got := c.paramSplit()
	assert.Equal(t, float64(proj), got)
}

// TestMixtralPairTies ties the first router in pairs as the fixture does
// (row 1 = row 0, rows 2 and 3 zero: logits (a, a, 0, 0)), so every token
// runs a whole tied pair with weights ½, and checks the logits against the
// float64 reference on every backend.
func TestMixtralPairTies(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			m, err := NewRandom(tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 4, "num_experts_per_tok": 2}), b, 11)
			require.NoError(t, err)
			defer m.Free()
			randomNorms(t, m, 4)
			editParam(t, m, "model.layers.0.block_sparse_moe.gate.weight", func(v []float32) {
				H := len(v) / 4
				copy(v[H:2*H], v[:H])
				clear(v[2*H:])
			})
			in := &Inputs{Batch: 2, Seq: 5, InputIDs: []int32{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}}
			got, _ := logitsOf(t, m, in)
			want := refDecoder(t, m, in)
			assert.LessOrEqual(t, maxAbsDiff(want, got), 2e-4*math.Max(1, maxAbsOf(want)))
		})
	}
}

// editParam downloads parameter name of m, lets edit change the values and
// uploads them in its place.
func editParam(t *testing.T, m *Model, name string, edit func(v []float32)) {
	t.Helper()
	for _, p := range m.Params() {
		if p.Name != name {
			continue
		}
		v, err := m.b.ToFloat32(p.T)
		require.NoError(t, err)
		edit(v)
		nt, err := m.b.FromFloat32(v, p.T.Shape()...)
		require.NoError(t, err)
		m.b.Free(p.T)
		p.T = nt
		return
	}
	t.Fatalf("no parameter %s", name)
}

// countingBackend counts the calls that bring data back to the host or
// wait for the device: downloads, AllFinite and Sync.
type countingBackend struct {
	backend.Backend
	reads, syncs int
}

func (c *countingBackend) ToFloat32(t backend.Tensor) ([]float32, error) {
	c.reads++
	return c.Backend.ToFloat32(t)
}

func (c *countingBackend) ToInt32(t backend.Tensor) ([]int32, error) {
	c.reads++
	return c.Backend.ToInt32(t)
}

func (c *countingBackend) AllFinite(t backend.Tensor) (bool, error) {
	c.reads++
	return c.Backend.AllFinite(t)
}

func (c *countingBackend) Sync() error {
	c.syncs++
	return c.Backend.Sync()
}

// setExpertsTrainable marks every expert's w2 weight trainable or not,
// which moves the MoE block between its sparse path (ExpertLinear) and
// its dense one (every expert on every token).
func setExpertsTrainable(m *Model, on bool) {
	for _, p := range m.Params() {
		if strings.Contains(p.Name, ".experts.") && strings.HasSuffix(p.Name, ".w2.weight") {
			p.Trainable = on
		}
	}
}

// TestMixtralForwardStaysOnDevice runs a Mixtral loss forward and backward
// on both MoE paths through a backend that counts downloads and Syncs:
// the routing must not read the router logits back (no queue submit per
// layer), and the loss and gradients must still be real.
func TestMixtralForwardStaysOnDevice(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			cb := &countingBackend{Backend: d.open(t)}
			m, err := NewRandom(tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 4, "num_experts_per_tok": 2}), cb, 9)
			require.NoError(t, err)
			defer m.Free()
			var embed *nn.Param
			for _, p := range m.Params() {
				if p.Name == "model.embed_tokens.weight" {
					embed = p
				}
			}
			require.NotNil(t, embed)
			embed.Trainable = true // so that the backward runs through every MoE op
			in := &Inputs{Batch: 2, Seq: 4, InputIDs: []int32{3, 1, 4, 1, 5, 9, 2, 6}, Labels: []int32{1, 4, 1, 5, 9, 2, 6, 5}}
			for _, dense := range []bool{false, true} {
				t.Run(fmt.Sprintf("dense %v", dense), func(t *testing.T) {
					setExpertsTrainable(m, dense)
					defer setExpertsTrainable(m, false)
					cb.reads, cb.syncs = 0, 0
					g := nn.NewGraph(cb, true)
					defer g.Release()
					loss := m.Loss(g, in)
					require.NoError(t, g.Err())
					require.NoError(t, g.Backward(loss))
					assert.Zero(t, cb.reads, "downloads during forward and backward")
					assert.Zero(t, cb.syncs, "syncs during forward and backward")
					v, err := cb.ToFloat32(loss.T)
					require.NoError(t, err)
					assert.Greater(t, v[0], float32(1), "a random model's loss over 40 tokens")
					grad, err := cb.ToFloat32(g.ParamGrad(embed))
					require.NoError(t, err)
					assert.Greater(t, maxAbsOf(grad), 1e-6, "the embedding's gradient")
				})
			}
		})
	}
}

// TestMixtralDenseMatchesSparse checks that the dense MoE path (trainable
// expert weights, or a batch mixing adapters) gives the logits of the
// sparse one, on every device.
func TestMixtralDenseMatchesSparse(t *testing.T) {
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			m, err := NewRandom(tinyDecoder(t, "mixtral", map[string]any{"num_local_experts": 3, "num_experts_per_tok": 2}), b, 12)
			require.NoError(t, err)
			defer m.Free()
			in := &Inputs{Batch: 2, Seq: 5, InputIDs: []int32{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}}
			sparse, _ := logitsOf(t, m, in)
			setExpertsTrainable(m, true)
			dense, _ := logitsOf(t, m, in)
			assert.LessOrEqual(t, maxAbsDiff(sparse, dense), 1e-5*math.Max(1, maxAbsOf(sparse)))
			assert.LessOrEqual(t, maxAbsDiff(refDecoder(t, m, in), dense), 2e-4*math.Max(1, maxAbsOf(dense)))
		})
	}
}

// TestRouteMatchesTopK checks that the device's TopK, which the forward
// routes with, picks what route does on random logits with many ties and
// NaN rows, on every device.
func TestRouteMatchesTopK(t *testing.T) {
	const n, e = 64, 8
	logits := make([]float32, n*e)
	for i := range logits {
		logits[i] = float32((i*7919)%5) - 2 // few distinct values: ties everywhere
	}
	logits[3*e+5] = float32(math.NaN())
	logits[9*e] = float32(math.Inf(1))
	for _, d := range archBackends() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			x, err := b.FromFloat32(logits, n, e)
			require.NoError(t, err)
			for _, k := range []int{1, 2, 3, e} {
				ids, err := b.TopK(x, k)
				require.NoError(t, err)
				got, err := b.ToInt32(ids)
				require.NoError(t, err)
				want := route(logits, n, e, k)
				require.Len(t, got, len(want))
				for i := range want {
					require.Equal(t, want[i], int(got[i]), "k %d slot %d", k, i)
				}
			}
		})
	}
}

// route is the routing rule stated on the host, the reference TopK is
// checked against: it picks each token's experts from the router logits [N, E] as
// MixtralSparseMoeBlock does: the k largest (torch.topk of the softmax,
// whose order the logits share), ties going to the lower expert index. A
// row holding a NaN has an all-NaN softmax, all tied: its first k experts.
// It returns the picks token-major, sel[n·k+j]. It is the host statement
// of the rule backend.TopK applies on the device (TestRouteMatchesTopK),
// for callers that hold the logits on the host; Mixtral's forward uses
// TopK and never reads the logits back.
func route(logits []float32, n, e, k int) []int {
	sel := make([]int, 0, n*k)
	for i := 0; i < n; i++ {
		row := logits[i*e : (i+1)*e]
		if slices.ContainsFunc(row, func(v float32) bool { return math.IsNaN(float64(v)) }) {
			for j := 0; j < k; j++ {
				sel = append(sel, j)
			}
			continue
		}
		taken := make([]bool, e)
		for j := 0; j < k; j++ {
			best := -1
			for x, v := range row {
				// Among equals the first stays.
				if !taken[x] && (best < 0 || v > row[best]) {
					best = x
				}
			}
			taken[best] = true
			sel = append(sel, best)
		}
	}
	return sel
}
