package train

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/ia3"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/nn"
	"github.com/ia3/ia3/model/safetensors"
)

// llama4TextConfig is a small llama4_text config.json with every feature
// acting on 8 tokens: chunks of 3 on the rope layers (0 and 2, with L2
// q/k norms), temperature tuning from the second token on the NoPE layers
// (1 and 3), MoE (4 experts, top 1, shared expert) on layers 1 and 3 and
// dense MLPs of intermediate_size_mlp on 0 and 2.
func llama4TextConfig() map[string]any {
	return map[string]any{"model_type": "llama4_text", "vocab_size": 32.0, "hidden_size": 16.0, "intermediate_size": 12.0,
		"intermediate_size_mlp": 20.0, "num_hidden_layers": 4.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0,
		"head_dim": 8.0, "max_position_embeddings": 64.0, "initializer_range": 0.3, "num_local_experts": 4.0,
		"num_experts_per_tok": 1.0, "interleave_moe_layer_step": 2.0, "no_rope_layer_interval": 2.0,
		"attention_chunk_size": 3.0, "floor_scale": 2.0, "attn_scale": 0.5}
}

// llama4Case is one Llama 4 training configuration.
type llama4Case struct {
	name      string
	composite bool
	// targets and feedforward replace PEFT's defaults (llama4_text has
	// none); nil takes them (the composite's llama4 entry).
	targets, feedforward []string
	modulesToSave        []string
}

func (c llama4Case) raw() map[string]any {
	text := llama4TextConfig()
	if !c.composite {
		return text
	}
	return map[string]any{"model_type": "llama4", "architectures": []any{"Llama4ForConditionalGeneration"},
		"text_config": text, "initializer_range": 0.3}
}

// modules lists the (IA)³ modules of the case's default-like targets
// (q_proj, v_proj, down_proj) in layer order: down_proj is the dense
// MLP's on layers 0 and 2 and the shared expert's on the MoE layers 1 and
// 3 (the fused experts are parameters, not Linear modules).
func (c llama4Case) modules() []string {
	pre := ""
	if c.composite {
		pre = "language_model."
	}
	var out []string
	for l := 0; l < 4; l++ {
		down := "feed_forward.down_proj"
		if l%2 == 1 {
			down = "feed_forward.shared_expert.down_proj"
		}
		for _, m := range []string{"self_attn.q_proj", "self_attn.v_proj", down} {
			out = append(out, fmt.Sprintf("%smodel.layers.%d.%s", pre, l, m))
		}
	}
	return out
}

var llama4Cases = []llama4Case{
	// PEFT has no llama4_text entry: the targets are the llama4 ones, named.
	{name: "llama4_text", targets: []string{"q_proj", "v_proj", "down_proj"}, feedforward: []string{"down_proj"}},
	{name: "composite llama4, PEFT defaults", composite: true},
	{name: "llama4_text, lm_head saved", targets: []string{"q_proj", "v_proj", "down_proj"},
		feedforward: []string{"down_proj"}, modulesToSave: []string{"lm_head"}},
}

// llama4Run builds the case's random model with its adapter and a padded
// causal-LM batch of 8 tokens.
func llama4Run(t *testing.T, b backend.Backend, c llama4Case, seed uint64) (fixtureRun, *model.Model) {
	t.Helper()
	fresh := func() *model.Model {
		cfg, err := model.ConfigFromMap(c.raw())
		require.NoError(t, err)
		m, err := model.NewRandom(cfg, b, seed)
		require.NoError(t, err)
		t.Cleanup(m.Free)
		return m
	}
	base := fresh()
	ic := ia3.NewConfig()
	ic.TaskType = model.TaskCausalLM
	if c.targets != nil {
		ic.TargetModules, ic.FeedforwardModules = ia3.Names(c.targets...), ia3.Names(c.feedforward...)
	}
	ic.ModulesToSave = c.modulesToSave
	pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
	require.NoError(t, err)
	ids := []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 5, 6, 17, 0, 0}
	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	labels := append([]int32{}, ids...)
	labels[14], labels[15] = model.IgnoreIndex, model.IgnoreIndex
	in := &model.Inputs{Batch: 2, Seq: 8, InputIDs: ids, AttentionMask: mask, Labels: labels}
	return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}, fresh()
}

// TestLlama4GradientsOnEveryDevice checks the gradients of every (IA)³
// vector (q_proj, v_proj, the dense and shared-expert down_proj; the
// router's input depends on the earlier vectors, and the routing scores
// are differentiable) and of a modules_to_save lm_head against finite
// differences of the loss, on the CPU and WebGPU. The expert choice is
// piecewise constant: a step of the finite difference that moves a token
// across a routing boundary makes the loss jump (seed 7 does, by about
// 0.015), so the seed is one whose routing no ±0.01 step changes.
func TestLlama4GradientsOnEveryDevice(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range llama4Cases {
				t.Run(c.name, func(t *testing.T) {
					r, _ := llama4Run(t, b, c, 3)
					require.Len(t, r.params, len(c.modules())+len(c.modulesToSave))
					checkFiniteDifferences(t, b, r)
				})
			}
		})
	}
}

// TestLlama4AdapterRoundTrip saves each case's adapter with trained-looking
// values, checks the keys are PEFT's (base_model.model.<module>.ia3_l, the
// composite's under language_model., lm_head's full weight), reloads it
// onto a fresh model and merges it, comparing logits, on every device.
func TestLlama4AdapterRoundTrip(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range llama4Cases {
				t.Run(c.name, func(t *testing.T) {
					r, fresh := llama4Run(t, b, c, 4)
					setTrainedLooking(t, b, r.params)
					var want []string
					for _, m := range c.modules() {
						want = append(want, "base_model.model."+m+".ia3_l")
					}
					for _, m := range c.modulesToSave {
						want = append(want, "base_model.model."+m+".weight")
					}
					checkAdapterRoundTrip(t, b, r, want, fresh)
				})
			}
		})
	}
}

// TestLlama4TextNeedsTargets checks that llama4_text, absent from PEFT's
// IA3 tables (PEFT looks up config.model_type, "llama4_text" for
// Llama4ForCausalLM), is refused without target modules as PEFT refuses
// it, while the composite llama4 takes PEFT's llama4 entry.
func TestLlama4TextNeedsTargets(t *testing.T) {
	_, ok := ia3.DefaultTargetModules("llama4_text")
	assert.False(t, ok)
	targets, ok := ia3.DefaultTargetModules("llama4")
	assert.True(t, ok)
	assert.Equal(t, []string{"q_proj", "v_proj", "down_proj"}, targets)
	cfg, err := model.ConfigFromMap(llama4TextConfig())
	require.NoError(t, err)
	m, err := model.New(cfg, nil)
	require.NoError(t, err)
	_, err = ia3.New(m, ia3.NewConfig(), ia3.DefaultAdapter)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "target_modules")
}

// TestLlama4MixedAdapterBatch runs a batch whose two rows use different
// adapters (serving several adapters at once) through the composite Llama 4
// and checks each row's logits against its run alone, with and without
// gradients, on every device: the experts are not Linear modules and take
// no adapter, and the shared expert and router scale each row by its own.
func TestLlama4MixedAdapterBatch(t *testing.T) {
	c := llama4Cases[1]
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			r, _ := llama4Run(t, b, c, 3)
			pm, base := r.pm, r.base
			setTrainedLooking(t, b, pm.TrainableParams())
			ic := ia3.NewConfig()
			ic.TaskType = model.TaskCausalLM
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
			rows := [][]int32{{3, 9, 4, 1, 7, 2, 8}, {8, 2, 6, 5, 3, 1, 9}}
			var want []float32
			for i, name := range []string{ia3.DefaultAdapter, "b"} {
				require.NoError(t, pm.SetAdapter(name))
				want = append(want, logits(t, b, base, &model.Inputs{Batch: 1, Seq: 7, InputIDs: rows[i]})...)
			}
			in := &model.Inputs{Batch: 2, Seq: 7, InputIDs: append(append([]int32{}, rows[0]...), rows[1]...)}
			for _, grad := range []bool{false, true} {
				g := nn.NewGraph(b, grad)
				g.Adapters = []string{ia3.DefaultAdapter, "b"}
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

// TestLlama4MergeSavesExpertsBitForBit merges an adapter into a Llama 4
// loaded from a BF16 checkpoint and saves it, as `ia3 merge` does, on every
// device: with vectors of ones (nothing changes) every entry of the saved
// checkpoint, transformers' fused experts included, equals the input's
// bytes; with trained-looking vectors only the adapted Linear weights
// change, and the experts, which no (IA)³ target reaches, are still the
// input's bytes.
func TestLlama4MergeSavesExpertsBitForBit(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			cfg, err := model.ConfigFromMap(llama4TextConfig())
			require.NoError(t, err)
			src, err := model.NewRandomWith(cfg, b, 5, model.RandomOptions{BF16: true})
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, src.Save(dir))
			src.Free()
			in := readTensors(t, filepath.Join(dir, safetensors.SingleFileName))
			for _, trained := range []bool{false, true} {
				t.Run(fmt.Sprintf("trained %v", trained), func(t *testing.T) {
					base, err := model.Load(context.Background(), dir, b)
					require.NoError(t, err)
					ic := ia3.NewConfig()
					ic.TaskType = model.TaskCausalLM
					ic.TargetModules, ic.FeedforwardModules = ia3.Names("q_proj", "v_proj", "down_proj"), ia3.Names("down_proj")
					pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
					require.NoError(t, err)
					if trained {
						setTrainedLooking(t, b, pm.TrainableParams())
					}
					merged, err := pm.MergeAndUnload(true)
					require.NoError(t, err)
					defer merged.Free()
					out := t.TempDir()
					require.NoError(t, merged.Save(out))
					got := readTensors(t, filepath.Join(out, safetensors.SingleFileName))
					require.Equal(t, len(in), len(got))
					changed := 0
					for name, w := range in {
						g, ok := got[name]
						require.True(t, ok, name)
						require.Equal(t, w.DType, g.DType, name)
						require.Equal(t, w.Shape, g.Shape, name)
						adapted := strings.HasSuffix(name, "q_proj.weight") || strings.HasSuffix(name, "v_proj.weight") ||
							strings.HasSuffix(name, "down_proj.weight")
						if trained && adapted {
							if !bytes.Equal(w.Data, g.Data) {
								changed++
							}
							continue
						}
						require.True(t, bytes.Equal(w.Data, g.Data), "%s: bytes differ", name)
					}
					if trained {
						assert.Equal(t, 12, changed, "q_proj, v_proj and down_proj of 4 layers")
					}
					require.Contains(t, got, "model.layers.1.feed_forward.experts.gate_up_proj")
				})
			}
		})
	}
}

// readTensors reads every entry of a safetensors file.
func readTensors(t *testing.T, path string) map[string]safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]safetensors.Tensor{}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		raw, err := f.Bytes(name)
		require.NoError(t, err)
		out[name] = safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: bytes.Clone(raw)}
	}
	return out
}

// TestLlama4ExpertsModulesToSaveRefused checks that modules_to_save on the
// routed experts (Llama4TextExperts, or a module holding them) is refused
// naming the module and its class: PEFT's copy would train and save the
// fused parameters, which the per-expert, frozen ExpertLinear weights
// cannot stand for. The shared expert, made of Linears, is accepted.
func TestLlama4ExpertsModulesToSaveRefused(t *testing.T) {
	cfg, err := model.ConfigFromMap(llama4TextConfig())
	require.NoError(t, err)
	for _, tc := range []struct {
		save, want string
	}{
		{"experts", "modules_to_save model.layers.1.feed_forward.experts: module model.layers.1.feed_forward.experts (Llama4TextExperts) cannot have its parameter"},
		{"feed_forward", "(Llama4TextExperts) cannot have its parameter"},
		{"shared_expert", ""},
	} {
		t.Run(tc.save, func(t *testing.T) {
			m, err := model.NewRandom(cfg, openCPU(t), 1)
			require.NoError(t, err)
			defer m.Free()
			ic := ia3.NewConfig()
			ic.TaskType = model.TaskCausalLM
			ic.TargetModules, ic.FeedforwardModules = ia3.Names("q_proj", "v_proj"), ia3.Names()
			ic.ModulesToSave = []string{tc.save}
			_, err = ia3.New(m, ic, ia3.DefaultAdapter)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
