package gguf

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// archs maps general.architecture to the Hugging Face model_type and class
// of the same model. convert_hf_to_gguf.py writes Mistral checkpoints as
// "llama" (the layouts are the same), so a Mistral GGUF loads as
// LlamaForCausalLM, whose module names are Mistral's too.
var archs = map[string]struct{ modelType, class string }{
	"llama":   {"llama", "LlamaForCausalLM"},
	"mistral": {"mistral", "MistralForCausalLM"},
	"qwen2":   {"qwen2", "Qwen2ForCausalLM"},
	"qwen3":   {"qwen3", "Qwen3ForCausalLM"},
	"gemma":   {"gemma", "GemmaForCausalLM"},
	"gemma2":  {"gemma2", "Gemma2ForCausalLM"},
	"gemma3":  {"gemma3_text", "Gemma3ForCausalLM"},
}

// SupportedArchitectures lists the general.architecture values this
// package maps to Hugging Face models, sorted.
func SupportedArchitectures() []string {
	out := make([]string, 0, len(archs))
	for a := range archs {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// model returns the Hugging Face model_type and class of the file's model
// and its expert count: its architecture's, or, for a "llama" file with
// {arch}.expert_count > 0, Mixtral's (convert_hf_to_gguf.py writes
// MixtralForCausalLM as a llama with experts).
func (f *File) model(arch string) (modelType, class string, experts int64, err error) {
	a, ok := archs[arch]
	if !ok {
		return "", "", 0, fmt.Errorf("gguf: %s: architecture %q is not supported (supported: %v)", f.path, arch, SupportedArchitectures())
	}
	experts, err = f.uintKey(arch+".expert_count", 0)
	if err != nil || experts == 0 {
		return a.modelType, a.class, 0, err
	}
	if arch != "llama" {
		return "", "", 0, fmt.Errorf("gguf: %s: %s.expert_count is %d; mixtures of experts are supported for llama (Mixtral) only", f.path, arch, experts)
	}
	return "mixtral", "MixtralForCausalLM", experts, nil
}

// Architecture returns the file's general.architecture.
func (f *File) Architecture() (string, error) {
	return f.str("general.architecture")
}

// str returns a required string key.
func (f *File) str(key string) (string, error) {
	v, ok := f.kv[key]
	if !ok {
		return "", fmt.Errorf("gguf: %s: metadata %s is missing", f.path, key)
	}
	s, ok := v.Str()
	if !ok {
		return "", fmt.Errorf("gguf: %s: metadata %s is a %s, want a string", f.path, key, v.Type)
	}
	return s, nil
}

// uintKey returns an integer key; def when absent and def >= 0, an error
// when absent and def < 0. A per-layer array must hold one value.
func (f *File) uintKey(key string, def int64) (int64, error) {
	v, ok := f.kv[key]
	if !ok {
		if def < 0 {
			return 0, fmt.Errorf("gguf: %s: metadata %s is missing", f.path, key)
		}
		return def, nil
	}
	if v.Type == TypeArray {
		ns, ok := v.Ints()
		if !ok || len(ns) == 0 {
			return 0, fmt.Errorf("gguf: %s: metadata %s is an array of %s, want integers", f.path, key, v.Elem)
		}
		for _, n := range ns[1:] {
			if n != ns[0] {
				return 0, fmt.Errorf("gguf: %s: metadata %s differs between layers (%v); per-layer sizes are not supported", f.path, key, v)
			}
		}
		v = Value{Type: TypeInt64, data: ns[0]}
	}
	n, ok := v.Int()
	if !ok || n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("gguf: %s: metadata %s is %s %v, want a non-negative integer", f.path, key, v.Type, v.data)
	}
	return n, nil
}

// floatKey returns a float key (def when absent). Float32 values are
// given as the shortest decimal that rounds to them, as transformers'
// config.json holds them (1e-06, not 9.99999997e-07).
func (f *File) floatKey(key string, def float64) (float64, error) {
	v, ok := f.kv[key]
	if !ok {
		return def, nil
	}
	x, ok := v.Float()
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("gguf: %s: metadata %s is %s %v, want a finite number", f.path, key, v.Type, v.data)
	}
	if v.Type == TypeFloat32 {
		x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 32), 64)
	}
	return x, nil
}

// HFConfig returns the Hugging Face config.json of the file's model, built
// from its {arch}.* metadata (block_count, embedding_length,
// feed_forward_length, attention.head_count(_kv), attention.key_length,
// attention.layer_norm_rms_epsilon, context_length, rope.freq_base,
// rope.scaling.*, expert_count and expert_used_count for Mixtral), its
// vocabulary size ({arch}.vocab_size, the token list, or token_embd's
// rows) and its tensors (biases; a missing output.weight means tied
// embeddings).
func (f *File) HFConfig() (map[string]any, error) {
	arch, err := f.Architecture()
	if err != nil {
		return nil, err
	}
	modelType, class, experts, err := f.model(arch)
	if err != nil {
		return nil, err
	}
	k := func(s string) string { return arch + "." + s }
	cfg := map[string]any{"model_type": modelType, "architectures": []any{class}, "dtype": "float32"}
	ints := []struct {
		hf, key string
		def     int64
	}{
		{"hidden_size", k("embedding_length"), -1},
		{"num_hidden_layers", k("block_count"), -1},
		{"intermediate_size", k("feed_forward_length"), -1},
		{"num_attention_heads", k("attention.head_count"), -1},
		{"max_position_embeddings", k("context_length"), 2048},
	}
	for _, e := range ints {
		n, err := f.uintKey(e.key, e.def)
		if err != nil {
			return nil, err
		}
		cfg[e.hf] = n
	}
	heads := cfg["num_attention_heads"].(int64)
	if heads == 0 {
		return nil, fmt.Errorf("gguf: %s: metadata %s is 0", f.path, k("attention.head_count"))
	}
	kv, err := f.uintKey(k("attention.head_count_kv"), heads)
	if err != nil {
		return nil, err
	}
	cfg["num_key_value_heads"] = kv
	headDim, err := f.uintKey(k("attention.key_length"), cfg["hidden_size"].(int64)/heads)
	if err != nil {
		return nil, err
	}
	if vd, err := f.uintKey(k("attention.value_length"), headDim); err != nil {
		return nil, err
	} else if vd != headDim {
		return nil, fmt.Errorf("gguf: %s: key_length %d and value_length %d differ; not supported", f.path, headDim, vd)
	}
	cfg["head_dim"] = headDim
	eps, err := f.floatKey(k("attention.layer_norm_rms_epsilon"), math.NaN())
	if err != nil {
		return nil, err
	}
	if math.IsNaN(eps) {
		return nil, fmt.Errorf("gguf: %s: metadata %s is missing", f.path, k("attention.layer_norm_rms_epsilon"))
	}
	cfg["rms_norm_eps"] = eps
	vocab, err := f.vocabSize(arch)
	if err != nil {
		return nil, err
	}
	cfg["vocab_size"] = vocab
	_, hasOutput := f.Tensor("output.weight")
	cfg["tie_word_embeddings"] = !hasOutput
	_, qBias := f.Tensor("blk.0.attn_q.bias")
	_, oBias := f.Tensor("blk.0.attn_output.bias")
	_, mlpBias := f.Tensor("blk.0.ffn_up.bias")
	switch arch {
	case "llama", "mistral", "qwen3", "gemma", "gemma2", "gemma3":
		if qBias != oBias && arch != "qwen3" {
			return nil, fmt.Errorf("gguf: %s: q/k/v biases without an output bias (or the reverse) are not supported for %s", f.path, arch)
		}
		cfg["attention_bias"] = qBias
	}
	if arch == "llama" || arch == "mistral" {
		cfg["mlp_bias"] = mlpBias
	}
	if experts > 0 {
		// MixtralConfig has neither attention_bias nor mlp_bias.
		if qBias || oBias {
			return nil, fmt.Errorf("gguf: %s: attention biases are not supported for Mixtral", f.path)
		}
		delete(cfg, "attention_bias")
		delete(cfg, "mlp_bias")
		used, err := f.uintKey(k("expert_used_count"), -1)
		if err != nil {
			return nil, err
		}
		cfg["num_local_experts"], cfg["num_experts_per_tok"] = experts, used
		cfg["sliding_window"] = nil // llama.cpp keeps no window
	}
	for hf, key := range map[string]string{"bos_token_id": "tokenizer.ggml.bos_token_id",
		"pad_token_id": "tokenizer.ggml.padding_token_id"} {
		if _, ok := f.kv[key]; ok {
			id, err := f.uintKey(key, 0)
			if err != nil {
				return nil, err
			}
			cfg[hf] = id
		}
	}
	// Generation stops at EOS and, as llama.cpp does, at the end-of-turn
	// and end-of-message tokens (Llama 3 Instruct's <|eot_id|>, <|eom_id|>).
	var eos []any
	for _, key := range []string{"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"} {
		if _, ok := f.kv[key]; !ok {
			continue
		}
		id, err := f.uintKey(key, 0)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(eos, any(id)) {
			eos = append(eos, id)
		}
	}
	switch len(eos) {
	case 0:
	case 1:
		cfg["eos_token_id"] = eos[0]
	default:
		cfg["eos_token_id"] = eos
	}
	if err := f.ropeConfig(arch, cfg); err != nil {
		return nil, err
	}
	if err := f.gemmaConfig(arch, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// vocabSize is {arch}.vocab_size, else the token list's length, else
// token_embd's rows.
func (f *File) vocabSize(arch string) (int64, error) {
	if _, ok := f.kv[arch+".vocab_size"]; ok {
		return f.uintKey(arch+".vocab_size", 0)
	}
	if v, ok := f.kv["tokenizer.ggml.tokens"]; ok && v.Len() > 0 {
		return int64(v.Len()), nil
	}
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		return t.Dims[1], nil
	}
	return 0, fmt.Errorf("gguf: %s: no vocabulary size: none of %s.vocab_size, tokenizer.ggml.tokens, token_embd.weight", f.path, arch)
}

// ropeConfig sets rope_theta and rope_scaling from rope.freq_base and
// rope.scaling.*: linear scaling, or Llama 3's frequency smoothing, which
// the converter stores as the rope_freqs tensor of per-frequency factors
// (checked here against the factors Llama 3's parameters give).
func (f *File) ropeConfig(arch string, cfg map[string]any) error {
	k := func(s string) string { return arch + "." + s }
	def := 10000.0
	if arch == "gemma3" {
		def = 1e6
	}
	theta, err := f.floatKey(k("rope.freq_base"), def)
	if err != nil {
		return err
	}
	cfg["rope_theta"] = theta
	stype := ""
	if v, ok := f.kv[k("rope.scaling.type")]; ok {
		stype, _ = v.Str()
	}
	factor, err := f.floatKey(k("rope.scaling.factor"), 0)
	if err != nil {
		return err
	}
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		return f.llama3Rope(arch, cfg, theta)
	}
	switch stype {
	case "", "none":
		if factor > 0 && factor != 1 {
			return fmt.Errorf("gguf: %s: %s is %g without a scaling type", f.path, k("rope.scaling.factor"), factor)
		}
	case "linear":
		if factor > 0 && factor != 1 {
			cfg["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": factor}
		}
	default:
		return fmt.Errorf("gguf: %s: rope scaling %q is not supported (linear and Llama 3's are)", f.path, stype)
	}
	return nil
}

// llama3Rope recovers Llama 3's rope_scaling from the rope_freqs tensor:
// it tries the parameters every Llama 3.x release uses (low_freq_factor 1,
// high_freq_factor 4, original context rope.scaling.original_context_length
// or 8192) with the largest stored factor, and accepts them only if they
// give the stored factors.
func (f *File) llama3Rope(arch string, cfg map[string]any, theta float64) error {
	got, err := f.Float32("rope_freqs.weight")
	if err != nil {
		return err
	}
	headDim := cfg["head_dim"].(int64)
	if int64(len(got))*2 != headDim {
		return fmt.Errorf("gguf: %s: rope_freqs.weight has %d factors for head_dim %d", f.path, len(got), headDim)
	}
	orig, err := f.uintKey(arch+".rope.scaling.original_context_length", 8192)
	if err != nil {
		return err
	}
	factor := float64(slices.Max(got))
	low, high := 1.0, 4.0
	lowWave, highWave := float64(orig)/low, float64(orig)/high
	for i, g := range got {
		freq := 1 / math.Pow(theta, float64(2*i)/float64(headDim))
		wave := 2 * math.Pi / freq
		want := 1.0
		switch {
		case wave < highWave:
		case wave > lowWave:
			want = factor
		default:
			smooth := (float64(orig)/wave - low) / (high - low)
			want = 1 / ((1-smooth)/factor + smooth)
		}
		if math.Abs(want-float64(g)) > 1e-3*want {
			return fmt.Errorf("gguf: %s: rope_freqs.weight[%d] = %g is not Llama 3's factor %g (factor %g, low 1, high 4, original context %d); this rope scaling is not supported",
				f.path, i, g, want, factor, orig)
		}
	}
	cfg["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": factor, "low_freq_factor": low,
		"high_freq_factor": high, "original_max_position_embeddings": orig}
	return nil
}

// gemmaConfig adds the Gemma family's keys. llama.cpp does not store
// query_pre_attn_scalar: like llama.cpp it is head_dim, except for the 27B
// models (46 layers for Gemma 2, 62 for Gemma 3), where it is
// hidden_size/heads.
func (f *File) gemmaConfig(arch string, cfg map[string]any) error {
	if arch != "gemma" && arch != "gemma2" && arch != "gemma3" {
		return nil
	}
	cfg["hidden_act"] = "gelu_pytorch_tanh"
	cfg["hidden_activation"] = "gelu_pytorch_tanh"
	if arch == "gemma" {
		return nil
	}
	k := func(s string) string { return arch + "." + s }
	layers, hidden, heads := cfg["num_hidden_layers"].(int64), cfg["hidden_size"].(int64), cfg["num_attention_heads"].(int64)
	scalar := cfg["head_dim"].(int64)
	if (arch == "gemma2" && layers == 46) || (arch == "gemma3" && layers == 62) {
		scalar = hidden / heads
	}
	cfg["query_pre_attn_scalar"] = scalar
	window, err := f.uintKey(k("attention.sliding_window"), 4096)
	if err != nil {
		return err
	}
	cfg["sliding_window"] = window
	for hf, key := range map[string]string{"attn_logit_softcapping": k("attn_logit_softcapping"),
		"final_logit_softcapping": k("final_logit_softcapping")} {
		x, err := f.floatKey(key, 0)
		if err != nil {
			return err
		}
		if x > 0 {
			cfg[hf] = x
		} else {
			cfg[hf] = nil
		}
	}
	if arch == "gemma3" {
		cfg["sliding_window_pattern"] = 6
		cfg["rope_local_base_freq"] = 10000.0
	}
	return nil
}

// layerName matches a llama.cpp per-layer tensor name.
var layerName = regexp.MustCompile(`^blk\.(\d+)\.([a-z_0-9]+)\.(weight|bias)$`)

// expertName matches the per-expert tensors of older Mixtral GGUF files
// (blk.N.ffn_gate.E.weight; newer files stack the experts, see
// stackedExperts).
var expertName = regexp.MustCompile(`^blk\.(\d+)\.ffn_(gate|up|down)\.(\d+)\.weight$`)

// expertWeights names the Mixtral expert weight of each llama.cpp expert
// projection: gate is w1, up is w3, down is w2.
var expertWeights = map[string]string{"gate": "w1", "up": "w3", "down": "w2"}

// expertParam is the Mixtral parameter name of expert e's projection proj
// (gate, up or down) in layer.
func expertParam(layer string, e int64, proj string) string {
	return fmt.Sprintf("model.layers.%s.block_sparse_moe.experts.%d.%s.weight", layer, e, expertWeights[proj])
}

// layerModules maps llama.cpp's per-layer tensor names to transformers'
// module names under model.layers.N.
var layerModules = map[string]string{
	"attn_norm":   "input_layernorm",
	"attn_q":      "self_attn.q_proj",
	"attn_k":      "self_attn.k_proj",
	"attn_v":      "self_attn.v_proj",
	"attn_output": "self_attn.o_proj",
	"attn_q_norm": "self_attn.q_norm",
	"attn_k_norm": "self_attn.k_norm",
	"ffn_norm":    "post_attention_layernorm",
	"ffn_gate":    "mlp.gate_proj",
	"ffn_up":      "mlp.up_proj",
	"ffn_down":    "mlp.down_proj",
	// Mixtral's router.
	"ffn_gate_inp": "block_sparse_moe.gate",
}

// sandwichModules are Gemma 2's and Gemma 3's names, whose four norms per
// layer llama.cpp calls attn_norm, post_attention_norm, ffn_norm and
// post_ffw_norm.
var sandwichModules = map[string]string{
	"ffn_norm":            "pre_feedforward_layernorm",
	"post_attention_norm": "post_attention_layernorm",
	"post_ffw_norm":       "post_feedforward_layernorm",
}

// HFName returns transformers' parameter name for llama.cpp tensor name in
// a model of architecture arch ("blk.3.attn_q.weight" →
// "model.layers.3.self_attn.q_proj.weight"), and false for a tensor with no
// such parameter.
func HFName(arch, name string) (string, bool) {
	switch name {
	case "token_embd.weight":
		return "model.embed_tokens.weight", true
	case "output_norm.weight":
		return "model.norm.weight", true
	case "output.weight":
		return "lm_head.weight", true
	}
	if m := expertName.FindStringSubmatch(name); m != nil {
		e, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			return "", false
		}
		return expertParam(m[1], e, m[2]), true
	}
	m := layerName.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	mod, ok := "", false
	if arch == "gemma2" || arch == "gemma3" {
		mod, ok = sandwichModules[m[2]]
	}
	if !ok {
		mod, ok = layerModules[m[2]]
	}
	if !ok {
		return "", false
	}
	return "model.layers." + m[1] + "." + mod + "." + m[3], true
}

// IsPath reports whether path names a GGUF file rather than a checkpoint
// directory: it ends in .gguf and is not a directory.
func IsPath(path string) bool {
	if !strings.EqualFold(filepath.Ext(path), ".gguf") {
		return false
	}
	st, err := os.Stat(path)
	return err != nil || !st.IsDir() // a missing file is reported by Open
}
