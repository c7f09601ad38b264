package train

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// decoderCase is a small random model of a Llama-family variant with its
// distinctive features on: windows shorter than the inputs, soft-capping,
// q/k norms, GQA.
type decoderCase struct {
	name, typ string
	extra     map[string]any
	// targets and feedforward, when set, replace PEFT's defaults (phi3
	// has none).
	targets, feedforward []string
}

var decoderCases = []decoderCase{
	{name: "mistral window 2", typ: "mistral", extra: map[string]any{"sliding_window": 2.0}},
	{name: "qwen2 sliding", typ: "qwen2", extra: map[string]any{"sliding_window": 2.0, "use_sliding_window": true,
		"max_window_layers": 1.0}},
	{name: "qwen3", typ: "qwen3", extra: map[string]any{"tie_word_embeddings": true}},
	{name: "gemma", typ: "gemma", extra: map[string]any{"num_key_value_heads": 1.0}},
	{name: "gemma2", typ: "gemma2", extra: map[string]any{"sliding_window": 2.0, "attn_logit_softcapping": 0.5,
		"final_logit_softcapping": 2.0, "query_pre_attn_scalar": 6.0}},
	{name: "gemma3_text", typ: "gemma3_text", extra: map[string]any{"sliding_window": 2.0, "sliding_window_pattern": 2.0,
		"query_pre_attn_scalar": 12.0}},
	// Phi-3 has no PEFT defaults: the fused projections are named.
	{name: "phi3", typ: "phi3", extra: map[string]any{"sliding_window": 2.0, "partial_rotary_factor": 0.5},
		targets: []string{"qkv_proj", "down_proj"}, feedforward: []string{"down_proj"}},
	{name: "phi", typ: "phi", extra: map[string]any{"qk_layernorm": true}},
	// Mixtral's default targets w2 of every expert.
	{name: "mixtral 3 experts top 2, window 2", typ: "mixtral", extra: map[string]any{"num_local_experts": 3.0,
		"num_experts_per_tok": 2.0, "sliding_window": 2.0}},
	{name: "gpt_neox", typ: "gpt_neox", extra: map[string]any{"rotary_pct": 0.5}},
	{name: "opt project_in/out", typ: "opt", extra: map[string]any{"ffn_dim": 24.0, "word_embed_proj_dim": 8.0}},
	{name: "gptj", typ: "gptj", extra: map[string]any{"n_embd": 16.0, "n_layer": 2.0, "n_head": 2.0, "n_inner": 24.0,
		"n_positions": 64.0, "rotary_dim": 4.0}},
	{name: "gpt_neo local window 2", typ: "gpt_neo", extra: map[string]any{"num_layers": 2.0, "num_heads": 4.0,
		"window_size": 2.0, "attention_types": []any{[]any{[]any{"global", "local"}, 1.0}}}},
	{name: "bloom", typ: "bloom", extra: map[string]any{"n_layer": 2.0, "n_head": 4.0}},
	{name: "gpt_bigcode", typ: "gpt_bigcode", extra: map[string]any{"n_embd": 16.0, "n_layer": 2.0, "n_head": 4.0,
		"n_inner": 24.0, "n_positions": 64.0}},
	{name: "falcon new architecture", typ: "falcon", extra: map[string]any{"new_decoder_architecture": true,
		"num_kv_heads": 2.0, "ffn_hidden_size": 24.0}},
}

// targetList returns the case's target modules: its own or PEFT's
// defaults for its type.
func (c decoderCase) targetList() []string {
	if c.targets != nil {
		return c.targets
	}
	t, _ := ia3.DefaultTargetModules(c.typ)
	return t
}

// module returns the full name of target module m in layer l, as
// transformers names it.
func (c decoderCase) module(l int, m string) string {
	if tp, ok := targetPaths[c.typ]; ok {
		return fmt.Sprintf("%s.%d.%s", tp.layers, l, tp.sub[m])
	}
	if strings.HasSuffix(m, "down_proj") || m == "fc2" {
		return fmt.Sprintf("model.layers.%d.mlp.%s", l, m)
	}
	return fmt.Sprintf("model.layers.%d.self_attn.%s", l, m)
}

// modules returns the full names of the target modules of layer l, in
// the order the targets are listed (Mixtral's w2 once per expert).
func (c decoderCase) modules(l int) []string {
	var out []string
	for _, m := range c.targetList() {
		if c.typ == "mixtral" && m == "w2" {
			n, _ := c.config()["num_local_experts"].(float64)
			for e := 0; e < int(n); e++ {
				out = append(out, fmt.Sprintf("model.layers.%d.block_sparse_moe.experts.%d.w2", l, e))
			}
			continue
		}
		out = append(out, c.module(l, m))
	}
	return out
}

// targetPaths gives, for the types not laid out as model.layers.N.
// {self_attn,mlp}, the layer list and each default target's path inside a
// layer.
var targetPaths = map[string]struct {
	layers string
	sub    map[string]string
}{
	"gpt2": {"transformer.h", map[string]string{"c_attn": "attn.c_attn", "mlp.c_proj": "mlp.c_proj"}},
	"gpt_neox": {"gpt_neox.layers", map[string]string{"query_key_value": "attention.query_key_value",
		"dense_4h_to_h": "mlp.dense_4h_to_h"}},
	"opt":  {"model.decoder.layers", map[string]string{"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "fc2": "fc2"}},
	"gptj": {"transformer.h", map[string]string{"q_proj": "attn.q_proj", "v_proj": "attn.v_proj", "fc_out": "mlp.fc_out"}},
	"gpt_neo": {"transformer.h", map[string]string{"q_proj": "attn.attention.q_proj", "v_proj": "attn.attention.v_proj",
		"c_proj": "mlp.c_proj"}},
	"bloom": {"transformer.h", map[string]string{"query_key_value": "self_attention.query_key_value",
		"mlp.dense_4h_to_h": "mlp.dense_4h_to_h"}},
	"gpt_bigcode": {"transformer.h", map[string]string{"c_attn": "attn.c_attn", "mlp.c_proj": "mlp.c_proj"}},
	"falcon": {"transformer.h", map[string]string{"query_key_value": "self_attention.query_key_value",
		"dense_4h_to_h": "mlp.dense_4h_to_h"}},
}

// decoderConfig is the case's config.json as a decoded map.
func (c decoderCase) config() map[string]any {
	raw := map[string]any{"model_type": c.typ, "vocab_size": 32.0, "hidden_size": 16.0, "intermediate_size": 24.0,
		"num_hidden_layers": 2.0, "num_attention_heads": 4.0, "num_key_value_heads": 2.0, "head_dim": 8.0,
		"max_position_embeddings": 64.0, "initializer_range": 0.3}
	for k, v := range c.extra {
		raw[k] = v
	}
	return raw
}

// decoderRun builds the case's random base model on b with PEFT's default
// (IA)³ adapter and a padded causal-LM batch longer than the windows.
func decoderRun(t *testing.T, b backend.Backend, c decoderCase, seed uint64) fixtureRun {
	t.Helper()
	base := randomDecoder(t, b, c, seed)
	ic := ia3.NewConfig()
	ic.TaskType = model.TaskCausalLM
	if c.targets != nil {
		ic.TargetModules, ic.FeedforwardModules = ia3.Names(c.targets...), ia3.Names(c.feedforward...)
	}
	pm, err := ia3.New(base, ic, ia3.DefaultAdapter)
	require.NoError(t, err)
	ids := []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, 0}
	in := &model.Inputs{Batch: 2, Seq: 6, InputIDs: ids, AttentionMask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		Labels: []int32{1, 7, 3, 9, 22, 13, 4, 8, 2, 30, 11, model.IgnoreIndex}}
	return fixtureRun{base: base, pm: pm, in: in, params: pm.TrainableParams()}
}

// randomDecoder builds the case's base model with random weights.
func randomDecoder(t *testing.T, b backend.Backend, c decoderCase, seed uint64) *model.Model {
	t.Helper()
	cfg, err := model.ConfigFromMap(c.config())
	require.NoError(t, err)
	base, err := model.NewRandom(cfg, b, seed)
	require.NoError(t, err)
	t.Cleanup(base.Free)
	return base
}

// TestNewDecoderGradients checks the (IA)³ vector gradients of every new
// Llama-family variant (sliding windows, soft-capping, Gemma norms, q/k
// norms) against finite differences of the loss.
func TestNewDecoderGradients(t *testing.T) {
	b := openCPU(t)
	for _, c := range decoderCases {
		t.Run(c.name, func(t *testing.T) {
			r := decoderRun(t, b, c, 21)
			require.Len(t, r.params, len(c.modules(0))+len(c.modules(1)), "every target of two layers")
			checkFiniteDifferences(t, b, r)
		})
	}
}

// TestNewDecoderAdapterRoundTrip saves a trained-looking default adapter
// of each variant, checks its keys are PEFT's
// (base_model.model.<module>.ia3_l), loads it onto a fresh copy of the
// base model and compares the logits, then merges it and compares again,
// on the CPU and WebGPU.
func TestNewDecoderAdapterRoundTrip(t *testing.T) {
	for _, d := range devices() {
		t.Run(d.name, func(t *testing.T) {
			b := d.open(t)
			for _, c := range decoderCases {
				t.Run(c.name, func(t *testing.T) {
					r := decoderRun(t, b, c, 4)
					var want []string
					setTrainedLooking(t, b, r.params)
					for l := 0; l < 2; l++ {
						for _, m := range c.modules(l) {
							want = append(want, fmt.Sprintf("base_model.model.%s.ia3_l", m))
						}
					}
					checkAdapterRoundTrip(t, b, r, want, randomDecoder(t, b, c, 4))
				})
			}
		})
	}
}

// setTrainedLooking gives every trainable parameter values away from its
// initialisation (1 + 0.1·((i+j) mod 7 − 3)), as a trained adapter has.
func setTrainedLooking(t *testing.T, b backend.Backend, params []ia3.NamedParam) {
	t.Helper()
	for i, p := range params {
		v := make([]float32, p.Param.T.Len())
		for j := range v {
			v[j] = 1 + 0.1*float32((i+j)%7-3)
		}
		nt, err := b.FromFloat32(v, p.Param.T.Shape()...)
		require.NoError(t, err)
		b.Free(p.Param.T)
		p.Param.T = nt
	}
}

// logits runs the model's forward pass without gradients.
func logits(t *testing.T, b backend.Backend, m *model.Model, in *model.Inputs) []float32 {
	t.Helper()
	g := nn.NewGraph(b, false)
	defer g.Release()
	out := m.Forward(g, in)
	require.NoError(t, g.Err())
	v, err := b.ToFloat32(out.T)
	require.NoError(t, err)
	return v
}

// checkAdapterRoundTrip saves the run's adapter, checks that the file holds
// exactly the keys want (in any order), loads it onto fresh (the same base
// model, built again) and compares the logits with the run's, then merges
// it and compares again.
func checkAdapterRoundTrip(t *testing.T, b backend.Backend, r fixtureRun, want []string, fresh *model.Model) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	adapted := logits(t, b, r.base, r.in)
	dir := t.TempDir()
	require.NoError(t, r.pm.SavePretrained(dir))
	f, err := safetensors.Open(filepath.Join(dir, "adapter_model.safetensors"))
	require.NoError(t, err)
	names := f.Names()
	require.NoError(t, f.Close())
	slices.Sort(names)
	assert.Equal(t, want, names)
	_, err = os.Stat(filepath.Join(dir, "adapter_config.json"))
	require.NoError(t, err)

	loaded, err := ia3.FromPretrained(fresh, dir, ia3.DefaultAdapter, false)
	require.NoError(t, err)
	got := logits(t, b, fresh, r.in)
	assert.InDeltaSlice(t, adapted, got, 1e-5, "loaded adapter")

	// Merging scales the weights instead: the same logits.
	merged, err := loaded.MergeAndUnload(true)
	require.NoError(t, err)
	got = logits(t, b, merged, r.in)
	assert.InDeltaSlice(t, adapted, got, 1e-4, "merged adapter")
}
