package ia3

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/backend/webgpu/webgputest"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// kvDevices are the backends the K/V-only tests run on: the CPU and a
// WebGPU adapter (lavapipe here; skipped without one unless
// IA3_REQUIRE_GPU=1).
var kvDevices = []struct {
	name string
	open func(*testing.T) backend.Backend
}{
	{"cpu", cpu},
	{"webgpu", func(t *testing.T) backend.Backend { return webgputest.Open(t) }},
}

// kvFixture is the tiny GPT-2 fixture loaded on b, with its inputs.
func kvFixture(t *testing.T, b backend.Backend) (*model.Model, *model.Inputs, string) {
	t.Helper()
	c := modeltest.NamedCase(t, "gpt2")
	base, err := model.Load(context.Background(), filepath.Join(c.Dir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	in, err := model.InputsFromSafetensors(filepath.Join(c.Dir, "inputs.safetensors"))
	require.NoError(t, err)
	return base, in, c.Dir
}

// kvConfig is an adapter on GPT-2's c_attn only, with the extension set
// or not.
func kvConfig(kvOnly bool) *Config {
	cfg := NewConfig()
	cfg.TaskType = TaskCausalLM
	cfg.TargetModules = Names("c_attn")
	cfg.FeedforwardModules = Names()
	cfg.FusedKVOnly = kvOnly
	return cfg
}

// randomVector returns 1 + 0.3·N(0,1) draws, as the fixtures' adapters.
func randomVector(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1 + 0.3*float32(r.NormFloat64())
	}
	return v
}

// setParam replaces p's storage with values.
func setParam(t *testing.T, b backend.Backend, p *nn.Param, v []float32) {
	t.Helper()
	nt := upload(t, b, v, p.T.Shape()...)
	b.Free(p.T)
	p.T = nt
}

// lossAndGrads runs m on in with gradients, loss = MSE(logits, target),
// and returns the logits and the gradients of ps.
func lossAndGrads(t *testing.T, b backend.Backend, m *model.Model, in *model.Inputs, target []float32, ps ...*nn.Param) ([]float32, [][]float32) {
	t.Helper()
	g := nn.NewGraph(b, true)
	defer g.Release()
	out := m.Forward(g, in)
	require.NoError(t, g.Err())
	tg := g.Input(upload(t, b, target, out.Shape()...))
	loss := g.MSE(out, tg)
	require.NoError(t, g.Err())
	require.NoError(t, g.Backward(loss))
	logits := download(t, b, out.T)
	grads := make([][]float32, len(ps))
	for i, p := range ps {
		d := g.ParamGrad(p)
		require.NotNil(t, d, "gradient of %s", p.Name)
		grads[i] = download(t, b, d)
	}
	return logits, grads
}

// assertClose compares slices within tol·max(1, max|want|).
func assertNear(t *testing.T, want, got []float32, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	scale := 1.0
	for _, x := range want {
		scale = max(scale, float64(x), -float64(x))
	}
	assert.LessOrEqual(t, maxDiff(want, got), tol*scale, msg)
}

// splitAdapter scales a separate projection's outputs by a vector, as
// PEFT's default IA3 does on GPT-2-style separate k and v projections.
type splitAdapter struct{ p *nn.Param }

func (s splitAdapter) Scaling(g *nn.Graph, _ int) (nn.Scaling, error) {
	return nn.Scaling{Out: g.Param(s.p)}, nil
}

// columns copies columns [from, from+n) of a row-major rows×cols matrix.
func columns(w []float32, rows, cols, from, n int) []float32 {
	out := make([]float32, 0, rows*n)
	for r := 0; r < rows; r++ {
		out = append(out, w[r*cols+from:r*cols+from+n]...)
	}
	return out
}

// TestKVOnlySplitEquivalence checks the extension at the layer level
// against the model it stands for: GPT-2's block-0 c_attn cut into
// separate q, k and v Conv1D projections, with PEFT's default IA3 on k and
// v (their outputs scaled by vectors l_k, l_v, q untouched). The fused
// c_attn with a K/V-only vector [l_k | l_v] gives the same outputs and the
// same gradients of the vectors and of the input.
func TestKVOnlySplitEquivalence(t *testing.T) {
	for _, dev := range kvDevices {
		t.Run(dev.name, func(t *testing.T) {
			b := dev.open(t)
			base, _, _ := kvFixture(t, b)
			pm, err := New(base, kvConfig(true), "kv")
			require.NoError(t, err)
			t.Cleanup(func() { _ = pm.Close() })
			l := pm.layerByName(t, "transformer.h.0.attn.c_attn")
			H := base.Config().Hidden
			require.Equal(t, H, l.Unscaled("kv"))
			require.Equal(t, []int{2 * H, 1}, l.AdapterVectorShape("kv"))
			r := rand.New(rand.NewPCG(1, 2))
			vec := randomVector(r, 2*H)
			setParam(t, b, l.Vector("kv"), vec)
			require.True(t, l.Vector("kv").Trainable)

			in := l.Linear.In
			w := download(t, b, l.Linear.Weight.T) // Conv1D: (in, 3H)
			bias := download(t, b, l.Linear.Bias.T)
			x := make([]float32, 2*5*in)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			target := make([]float32, 2*5*3*H)
			for i := range target {
				target[i] = float32(r.NormFloat64())
			}

			// Fused, with the K/V-only adapter.
			xp := &nn.Param{Name: "x", T: upload(t, b, x, 2, 5, in), Trainable: true}
			defer b.Free(xp.T)
			g := nn.NewGraph(b, true)
			defer g.Release()
			y := g.Linear(g.Param(xp), l.Linear)
			loss := g.MSE(y, g.Input(upload(t, b, target, 2, 5, 3*H)))
			require.NoError(t, g.Err())
			require.NoError(t, g.Backward(loss))
			fusedY := download(t, b, y.T)
			fusedDV := download(t, b, g.ParamGrad(l.Vector("kv")))
			fusedDX := download(t, b, g.ParamGrad(xp))

			// Split: q, k, v projections sliced from c_attn; IA3 on k and v.
			proj := func(name string, from int, ad nn.LinearAdapter) *nn.Linear {
				return &nn.Linear{In: in, Out: H, FanInFanOut: true, Adapter: ad,
					Weight: &nn.Param{Name: name + ".weight", T: upload(t, b, columns(w, in, 3*H, from, H), in, H)},
					Bias:   &nn.Param{Name: name + ".bias", T: upload(t, b, bias[from:from+H], H)}}
			}
			lk := &nn.Param{Name: "k.ia3_l", T: upload(t, b, vec[:H], H), Trainable: true}
			lv := &nn.Param{Name: "v.ia3_l", T: upload(t, b, vec[H:], H), Trainable: true}
			q, k, v := proj("q", 0, nil), proj("k", H, splitAdapter{lk}), proj("v", 2*H, splitAdapter{lv})
			defer func() {
				for _, p := range []*nn.Param{lk, lv, q.Weight, q.Bias, k.Weight, k.Bias, v.Weight, v.Bias} {
					b.Free(p.T)
				}
			}()
			xs := &nn.Param{Name: "x", T: upload(t, b, x, 2, 5, in), Trainable: true}
			defer b.Free(xs.T)
			g2 := nn.NewGraph(b, true)
			defer g2.Release()
			xv := g2.Param(xs)
			ys := g2.Concat(-1, g2.Linear(xv, q), g2.Linear(xv, k), g2.Linear(xv, v))
			loss2 := g2.MSE(ys, g2.Input(upload(t, b, target, 2, 5, 3*H)))
			require.NoError(t, g2.Err())
			require.NoError(t, g2.Backward(loss2))

			assertNear(t, download(t, b, ys.T), fusedY, 1e-5, "outputs")
			splitDV := append(download(t, b, g2.ParamGrad(lk)), download(t, b, g2.ParamGrad(lv))...)
			assertNear(t, splitDV, fusedDV, 1e-5, "gradient of [l_k | l_v]")
			assertNear(t, download(t, b, g2.ParamGrad(xs)), fusedDX, 1e-5, "gradient of the input")
		})
	}
}

// layerByName returns the adapted layer name or fails the test.
func (m *Model) layerByName(t *testing.T, name string) *Layer {
	t.Helper()
	l := m.byName[name]
	require.NotNil(t, l, "layer %s", name)
	return l
}

// TestKVOnlyWholeModel checks a K/V-only adapter on every c_attn of the
// GPT-2 fixture against two references: the base model with the K and V
// columns of each c_attn (weight and bias) multiplied by the vector by
// hand (logits), and PEFT's own IA3 on c_attn with the vector [1…1 | l]
// (logits, and gradients: PEFT's gradient over the K/V outputs is ours,
// while over the queries it is not zero, which is what the extension
// stops training). Merge, unmerge, merge_and_unload, a weighted
// combination, a mixed-adapter batch and a save/load round trip keep the
// logits.
func TestKVOnlyWholeModel(t *testing.T) {
	for _, dev := range kvDevices {
		t.Run(dev.name, func(t *testing.T) {
			b := dev.open(t)
			base, in, _ := kvFixture(t, b)
			H := base.Config().Hidden
			pm, err := New(base, kvConfig(true), "kv")
			require.NoError(t, err)
			t.Cleanup(func() { _ = pm.Close() })
			require.NoError(t, pm.AddAdapter("full", kvConfig(false)))
			r := rand.New(rand.NewPCG(3, 4))
			vecs := map[string][]float32{}
			var kvParams, fullParams []*nn.Param
			for _, l := range pm.Layers() {
				v := randomVector(r, 2*H)
				vecs[l.Name] = v
				require.Equal(t, 2*H, l.AdapterVectorLen("kv"), l.Name)
				require.Equal(t, 3*H, l.AdapterVectorLen("full"), l.Name)
				setParam(t, b, l.Vector("kv"), v)
				setParam(t, b, l.Vector("full"), append(onesVector(H), v...))
				kvParams = append(kvParams, l.Vector("kv"))
				fullParams = append(fullParams, l.Vector("full"))
			}
			require.NotEmpty(t, kvParams)

			// Logits and gradients: K/V-only against PEFT's IA3 with [1 | l].
			g := nn.NewGraph(b, false)
			out := base.Forward(g, in)
			require.NoError(t, g.Err())
			target := make([]float32, out.T.Len())
			g.Release()
			for i := range target {
				target[i] = float32(r.NormFloat64())
			}
			require.NoError(t, pm.SetAdapter("kv"))
			kvLogits, kvGrads := lossAndGrads(t, b, base, in, target, kvParams...)
			require.NoError(t, pm.SetAdapter("full"))
			fullLogits, fullGrads := lossAndGrads(t, b, base, in, target, fullParams...)
			assertNear(t, fullLogits, kvLogits, 1e-5, "logits: K/V-only = PEFT's IA3 with [1 | l]")
			for i := range kvGrads {
				assertNear(t, fullGrads[i][H:], kvGrads[i], 1e-5, "gradient over K and V of "+kvParams[i].Name)
				assert.Greater(t, maxDiff(fullGrads[i][:H], make([]float32, H)), 1e-9, "PEFT's vector gets query gradients")
			}

			// Logits against K and V scaled by hand in a plain copy of the base.
			manual, _, dir := kvFixture(t, b)
			for _, l := range pm.Layers() {
				mod, ok := manual.Module(l.Name)
				require.True(t, ok)
				lin := mod.(*nn.Linear)
				w := download(t, b, lin.Weight.T)
				bs := download(t, b, lin.Bias.T)
				v := vecs[l.Name]
				for row := 0; row < lin.In; row++ {
					for c := H; c < 3*H; c++ {
						w[row*3*H+c] *= v[c-H]
					}
				}
				for c := H; c < 3*H; c++ {
					bs[c] *= v[c-H]
				}
				setParam(t, b, lin.Weight, w)
				setParam(t, b, lin.Bias, bs)
			}
			assertNear(t, forwardLogits(t, b, manual, in), kvLogits, 1e-4, "logits: K and V columns scaled by hand")

			// Merge and unmerge in place; the query columns stay as they were.
			cAttn := pm.layerByName(t, "transformer.h.0.attn.c_attn").Linear
			before := download(t, b, cAttn.Weight.T)
			require.NoError(t, pm.SetAdapter("kv"))
			require.NoError(t, pm.Merge(true))
			assertNear(t, kvLogits, forwardLogits(t, b, base, in), 1e-4, "merged")
			after := download(t, b, cAttn.Weight.T)
			assert.Equal(t, columns(before, cAttn.In, 3*H, 0, H), columns(after, cAttn.In, 3*H, 0, H), "query columns untouched by the merge")
			assert.NotEqual(t, columns(before, cAttn.In, 3*H, H, 2*H), columns(after, cAttn.In, 3*H, H, 2*H), "key and value columns merged")
			require.NoError(t, pm.Unmerge())
			assertNear(t, kvLogits, forwardLogits(t, b, base, in), 1e-4, "unmerged")

			// Mixed batch: each sample as its adapter alone.
			checkKVMixed(t, b, pm, base, in)

			// Weighted: 0.6·kv + 0.4·kv2 is the vector of a K/V-only adapter.
			require.NoError(t, pm.AddAdapter("kv2", kvConfig(true)))
			for _, l := range pm.Layers() {
				setParam(t, b, l.Vector("kv2"), randomVector(r, 2*H))
			}
			require.NoError(t, pm.AddWeightedAdapter([]string{"kv", "kv2"}, []float64{0.6, 0.4}, "w"))
			assert.True(t, pm.Config("w").FusedKVOnly)
			for _, l := range pm.Layers() {
				a, c := download(t, b, l.Vector("kv").T), download(t, b, l.Vector("kv2").T)
				want := make([]float32, len(a))
				for i := range a {
					want[i] = 0.6*a[i] + 0.4*c[i]
				}
				assertNear(t, want, download(t, b, l.Vector("w").T), 1e-6, "weighted vector of "+l.Name)
			}
			err = pm.AddWeightedAdapter([]string{"kv", "full"}, []float64{0.5, 0.5}, "bad")
			require.Error(t, err)
			assert.Contains(t, err.Error(), FusedKVOnlyKey)

			// Save and load: the extension key, vectors (2H, 1), same logits.
			saved := t.TempDir()
			require.NoError(t, pm.SavePretrained(saved, "kv"))
			out2 := AdapterDir(saved, "kv")
			raw, err := os.ReadFile(filepath.Join(out2, ConfigFile))
			require.NoError(t, err)
			var cj map[string]any
			require.NoError(t, json.Unmarshal(raw, &cj))
			assert.Equal(t, true, cj[FusedKVOnlyKey])
			st, err := modeltest.ReadTensors(filepath.Join(out2, WeightsFile))
			require.NoError(t, err)
			assert.Equal(t, []int{2 * H, 1}, st["base_model.model.transformer.h.0.attn.c_attn.ia3_l"].Shape)
			fresh, err := model.Load(context.Background(), filepath.Join(dir, "base"), b)
			require.NoError(t, err)
			t.Cleanup(fresh.Free)
			loaded, err := FromPretrained(fresh, out2, "kv", false)
			require.NoError(t, err)
			assertNear(t, kvLogits, forwardLogits(t, b, fresh, in), 1e-5, "saved and loaded")

			// PEFT's (3H, 1) c_attn vectors do not fit a K/V-only config.
			mix := t.TempDir()
			require.NoError(t, pm.SavePretrained(mix, "full"))
			full := AdapterDir(mix, "full")
			cfgFull, err := LoadConfig(full)
			require.NoError(t, err)
			cfgFull.FusedKVOnly = true
			require.NoError(t, cfgFull.Write(full))
			err = loaded.LoadAdapter(full, "wrong")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sets "+FusedKVOnlyKey)

			// merge_and_unload: a plain model with the adapter's logits.
			merged, err := loaded.MergeAndUnload(true)
			require.NoError(t, err)
			assertNear(t, kvLogits, forwardLogits(t, b, merged, in), 1e-4, "merge_and_unload")
		})
	}
}

// checkKVMixed runs a batch whose samples use "kv", "full" (and none),
// and compares each sample with a run of that adapter alone.
func checkKVMixed(t *testing.T, b backend.Backend, pm *Model, base *model.Model, in *model.Inputs) {
	t.Helper()
	names := []string{"kv", "full", "", "kv"}[:in.Batch]
	g := nn.NewGraph(b, false)
	g.Adapters = names
	out := base.Forward(g, in)
	require.NoError(t, g.Err())
	mixed := download(t, b, out.T)
	g.Release()
	per := len(mixed) / in.Batch
	for s, name := range names {
		if name == "" {
			require.NoError(t, pm.DisableAdapterLayers())
		} else {
			require.NoError(t, pm.SetAdapter(name))
		}
		alone := forwardLogits(t, b, base, in)
		pm.EnableAdapterLayers()
		assertNear(t, alone[s*per:(s+1)*per], mixed[s*per:(s+1)*per], 1e-5, "mixed batch sample "+name)
	}
	require.NoError(t, pm.SetAdapter("kv"))
}

// TestKVOnlyRefusedWhereItCannotApply checks that an adapter with the
// extension is refused, naming the key, where no fused query/key/value
// projection takes it, and that the key round-trips through
// adapter_config.json (absent when unset, so PEFT's files stay the same).
func TestKVOnlyRefusedWhereItCannotApply(t *testing.T) {
	b := cpu(t)
	base, _, _ := kvFixture(t, b)
	bertDir := modeltest.NamedCase(t, "bert").Dir
	bert, err := model.Load(context.Background(), filepath.Join(bertDir, "base"), b)
	require.NoError(t, err)
	t.Cleanup(bert.Free)

	ffCAttn := kvConfig(true)
	ffCAttn.FeedforwardModules = Names("c_attn")
	mlpOnly := kvConfig(true)
	mlpOnly.TargetModules = Names("mlp.c_proj")
	bertCfg := NewConfig()
	bertCfg.TaskType = TaskSeqCls
	bertCfg.FusedKVOnly = true
	for _, tc := range []struct {
		name string
		m    *model.Model
		cfg  *Config
		want string
	}{
		{"bert has separate key and value projections", bert, bertCfg, `model_type "bert"`},
		{"only a non-fused target", base, mlpOnly, "no target is a fused query/key/value projection"},
		{"c_attn marked feed-forward", base, ffCAttn, "marked feed-forward"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.m, tc.cfg, "kv")
			require.Error(t, err)
			assert.Contains(t, err.Error(), FusedKVOnlyKey)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	// Defaults (c_attn and mlp.c_proj): only c_attn's vector is shorter.
	def := NewConfig()
	def.FusedKVOnly = true
	pm, err := New(base, def, "kv")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pm.Close() })
	H := base.Config().Hidden
	for _, l := range pm.Layers() {
		if l.Feedforward {
			assert.Equal(t, l.VectorLen(), l.AdapterVectorLen("kv"), l.Name)
			assert.Zero(t, l.Unscaled("kv"), l.Name)
		} else {
			assert.Equal(t, 2*H, l.AdapterVectorLen("kv"), l.Name)
		}
	}

	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"peft_type": "IA3", "ia3_fused_kv_only": true}`, true},
		{`{"peft_type": "IA3", "ia3_fused_kv_only": false}`, false},
		{`{"peft_type": "IA3"}`, false},
	} {
		c, err := ParseConfig([]byte(tc.in))
		require.NoError(t, err)
		assert.Equal(t, tc.want, c.FusedKVOnly, tc.in)
		out, err := c.Marshal()
		require.NoError(t, err)
		var back map[string]any
		require.NoError(t, json.Unmarshal(out, &back))
		v, ok := back[FusedKVOnlyKey]
		assert.Equal(t, tc.want, ok, "key written only when set: %s", out)
		if ok {
			assert.Equal(t, true, v)
		}
	}
	_, err = ParseConfig([]byte(`{"peft_type": "IA3", "ia3_fused_kv_only": "yes"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), FusedKVOnlyKey)
}
