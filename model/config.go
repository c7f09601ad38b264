package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ia3/ia3/internal/regular"
	"github.com/ia3/ia3/model/gguf"
)

// Task types, spelled as PEFT's TaskType enum spells them.
const (
	TaskCausalLM          = "CAUSAL_LM"
	TaskSeq2SeqLM         = "SEQ_2_SEQ_LM"
	TaskSeqCls            = "SEQ_CLS"
	TaskFeatureExtraction = "FEATURE_EXTRACTION"
)

// Config is a model's config.json, with the fields the architectures use
// parsed into typed form. Raw keeps the whole file so that Save writes it
// back unchanged.
//
// The fields are shared across families where transformers' meaning is the
// same (Hidden is n_embd for GPT-2, hidden_size for Llama and BERT, d_model
// for T5); family-specific fields say which family reads them.
type Config struct {
	ModelType     string
	Architectures []string
	// Architecture is the class this package builds: the first entry of
	// Architectures, or the family's default when the file names none.
	Architecture string
	// TaskType is CAUSAL_LM, SEQ_2_SEQ_LM, SEQ_CLS or FEATURE_EXTRACTION
	// (a bare encoder such as BertModel), derived from Architecture.
	TaskType string
	// Raw is the whole config.json.
	Raw map[string]any

	VocabSize    int
	Hidden       int // n_embd, hidden_size, d_model
	Layers       int // n_layer, num_hidden_layers, num_layers (T5 encoder)
	Heads        int
	KVHeads      int // num_key_value_heads; equals Heads without GQA
	HeadDim      int // head_dim, d_kv, or Hidden/Heads
	Intermediate int // n_inner (4·n_embd when null), intermediate_size, d_ff
	MaxPositions int // n_positions, max_position_embeddings (0 for T5)
	NormEps      float64
	// Act is the activation's transformers name: gelu_new, gelu, silu, relu.
	Act string
	// TieWordEmbeddings says the output head shares the input embedding.
	TieWordEmbeddings bool

	// PadTokenID is -1 when the config has none.
	PadTokenID int

	// GPT-2.
	ScaleAttnWeights           bool
	ScaleAttnByInverseLayerIdx bool

	// Llama family (llama, mistral, qwen2, qwen3, gemma, gemma2,
	// gemma3_text).
	AttentionBias bool // bias on q/k/v/o (llama attention_bias)
	QKVBias       bool // bias on q/k/v only (qwen2)
	MLPBias       bool
	Rope          RopeConfig
	// SlidingWindow is the attention window of the layers LayerTypes marks
	// "sliding_attention" (0: none): a query sees itself and the
	// SlidingWindow − 1 tokens before it.
	SlidingWindow int
	// LayerTypes holds each layer's attention, "full_attention" or
	// "sliding_attention", as transformers' config.layer_types does.
	LayerTypes []string
	// LocalRope is the rotary embedding of sliding layers where it differs
	// from Rope (gemma3_text's rope_local_base_freq); nil: Rope everywhere.
	LocalRope *RopeConfig
	// QKNorm adds per-head RMS norms q_norm and k_norm before the rotation
	// (qwen3, gemma3_text).
	QKNorm bool
	// Gemma: RMS norms scale by (1 + weight), the embedding output is
	// multiplied by √hidden_size, and gemma2/gemma3_text add norms after
	// attention and around the MLP.
	GemmaNorm     bool
	EmbedScale    bool
	SandwichNorms bool
	// QueryPreAttnScalar, when > 0, makes the attention scale
	// QueryPreAttnScalar^-½ instead of head_dim^-½ (gemma2, gemma3_text).
	QueryPreAttnScalar float64
	// AttnSoftcap and FinalSoftcap, when > 0, soft-cap the attention
	// logits and the output logits: cap·tanh(x/cap) (gemma2).
	AttnSoftcap, FinalSoftcap float64
	// FusedProjections builds Phi-3's qkv_proj (q, k, v stacked on the
	// output axis) and gate_up_proj (gate, then up) instead of separate
	// projections.
	FusedProjections bool
	// RotaryDim is the number of rotated features of each head:
	// head_dim · partial_rotary_factor (phi3, phi, gpt_neox), or 0 for all.
	RotaryDim int
	// NumExperts and ExpertsPerToken are Mixtral's num_local_experts and
	// num_experts_per_tok: each layer's MLP is a sparse mixture of
	// NumExperts experts of which every token runs its top ExpertsPerToken.
	NumExperts, ExpertsPerToken int
	// Llama4 holds Llama 4's text options (llama4_text, llama4); nil otherwise.
	Llama4 *Llama4Options
	// ParallelResidual adds attention and MLP, each of its own norm of the
	// same input, to the residual at once (gpt_neox use_parallel_residual).
	ParallelResidual bool

	// OPT: the word embedding width (word_embed_proj_dim, with
	// project_in/project_out when it differs from hidden_size), LayerNorm
	// before each block (do_layer_norm_before; OPT-350m norms after) and
	// _remove_final_layer_norm.
	WordEmbedDim    int
	NormBefore      bool
	RemoveFinalNorm bool

	// ResidualAfterNorm takes the residual after the LayerNorm (BLOOM's
	// apply_residual_connection_post_layernorm).
	ResidualAfterNorm bool

	// Falcon: new_decoder_architecture (grouped query_key_value) and the
	// number of LayerNorms of a parallel layer (num_ln_in_parallel_attn:
	// 2 is ln_attn and ln_mlp); ParallelResidual is parallel_attn.
	NewDecoderArch bool
	ParallelNorms  int

	// T5.
	DecoderLayers        int
	RelAttnBuckets       int
	RelAttnMaxDistance   int
	GatedFF              bool // feed_forward_proj "gated-…" (T5 v1.1, FLAN-T5)
	ScaleDecoderOutputs  bool // decoder output × d_model^-0.5 before lm_head
	DecoderStartTokenID  int
	hasDecoderStartToken bool

	// BART: the token id whose last occurrence in input_ids
	// BartForSequenceClassification pools (eos_token_id). BART reads
	// EmbedScale (scale_embedding: embeddings × √d_model), DecoderLayers,
	// DecoderStartTokenID and NumLabels too.
	EOSTokenID int

	// BERT and RoBERTa.
	TypeVocabSize int
	NumLabels     int
	ProblemType   string // "", "regression", "single_label_classification"

	// DeBERTa holds deberta and deberta-v2's own fields (nil otherwise).
	DeBERTa *DeBERTaConfig
}

// RopeConfig describes rotary position embeddings (Llama family).
type RopeConfig struct {
	Theta float64
	// Type is "default", "linear" or "llama3".
	Type   string
	Factor float64 // linear and llama3
	// Llama 3 frequency smoothing.
	LowFreqFactor, HighFreqFactor float64
	OriginalMaxPositions          int
}

// family describes one supported model_type.
type family struct {
	defaultArch string
	archs       []string // architectures this package builds
	parse       func(p *cfgParser, c *Config)
}

var families = map[string]family{
	"gpt2":        {"GPT2LMHeadModel", []string{"GPT2LMHeadModel", "GPT2ForSequenceClassification"}, parseGPT2},
	"llama":       {"LlamaForCausalLM", []string{"LlamaForCausalLM", "LlamaForSequenceClassification"}, parseLlama},
	"mistral":     {"MistralForCausalLM", []string{"MistralForCausalLM", "MistralForSequenceClassification"}, parseLlama},
	"qwen2":       {"Qwen2ForCausalLM", []string{"Qwen2ForCausalLM", "Qwen2ForSequenceClassification"}, parseLlama},
	"qwen3":       {"Qwen3ForCausalLM", []string{"Qwen3ForCausalLM", "Qwen3ForSequenceClassification"}, parseLlama},
	"gemma":       {"GemmaForCausalLM", []string{"GemmaForCausalLM", "GemmaForSequenceClassification"}, parseGemma},
	"gemma2":      {"Gemma2ForCausalLM", []string{"Gemma2ForCausalLM", "Gemma2ForSequenceClassification"}, parseGemma},
	"gemma3_text": {"Gemma3ForCausalLM", []string{"Gemma3ForCausalLM", "Gemma3TextForSequenceClassification"}, parseGemma},
	"phi3":        {"Phi3ForCausalLM", []string{"Phi3ForCausalLM", "Phi3ForSequenceClassification"}, parsePhi3},
	"mixtral":     {"MixtralForCausalLM", []string{"MixtralForCausalLM", "MixtralForSequenceClassification"}, parseMixtral},
	"llama4_text": {"Llama4ForCausalLM", []string{"Llama4ForCausalLM"}, parseLlama4},
	"llama4":      {"Llama4ForConditionalGeneration", []string{"Llama4ForConditionalGeneration"}, parseLlama4},
	"phi":         {"PhiForCausalLM", []string{"PhiForCausalLM", "PhiForSequenceClassification"}, parsePhi},
	"gpt_neox":    {"GPTNeoXForCausalLM", []string{"GPTNeoXForCausalLM", "GPTNeoXForSequenceClassification"}, parseGPTNeoX},
	"opt":         {"OPTForCausalLM", []string{"OPTForCausalLM", "OPTForSequenceClassification"}, parseOPT},
	"gptj":        {"GPTJForCausalLM", []string{"GPTJForCausalLM", "GPTJForSequenceClassification"}, parseGPTJ},
	"gpt_neo":     {"GPTNeoForCausalLM", []string{"GPTNeoForCausalLM", "GPTNeoForSequenceClassification"}, parseGPTNeo},
	"bloom":       {"BloomForCausalLM", []string{"BloomForCausalLM", "BloomForSequenceClassification"}, parseBloom},
	"mt5":         {"MT5ForConditionalGeneration", []string{"MT5ForConditionalGeneration"}, parseMT5},
	"falcon":      {"FalconForCausalLM", []string{"FalconForCausalLM", "FalconForSequenceClassification"}, parseFalcon},
	"gpt_bigcode": {"GPTBigCodeForCausalLM", []string{"GPTBigCodeForCausalLM", "GPTBigCodeForSequenceClassification"}, parseGPTBigCode},
	"bart":        {"BartForConditionalGeneration", []string{"BartForConditionalGeneration", "BartForSequenceClassification", "BartModel"}, parseBART},
	"t5":          {"T5ForConditionalGeneration", []string{"T5ForConditionalGeneration"}, parseT5},
	"bert":        {"BertForSequenceClassification", []string{"BertForSequenceClassification", "BertModel"}, parseBERT},
	"roberta":     {"RobertaForSequenceClassification", []string{"RobertaForSequenceClassification", "RobertaModel"}, parseBERT},
	"deberta-v2":  {"DebertaV2ForSequenceClassification", []string{"DebertaV2ForSequenceClassification", "DebertaV2Model"}, parseDeBERTa},
	"deberta":     {"DebertaForSequenceClassification", []string{"DebertaForSequenceClassification", "DebertaModel"}, parseDeBERTa},
}

// SupportedModelTypes lists the config.json model_type values this package
// builds, sorted.
func SupportedModelTypes() []string {
	out := make([]string, 0, len(families))
	for k := range families {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LoadConfig reads dir/config.json, or, when dir is a GGUF file (a path
// ending in .gguf), the config its metadata describes.
func LoadConfig(dir string) (*Config, error) {
	if gguf.IsPath(dir) {
		return loadGGUFConfig(dir)
	}
	return LoadConfigFile(filepath.Join(dir, "config.json"))
}

// LoadConfigFile reads a config.json at any path. Errors name the file and
// the field; a path that is not a regular file (a FIFO, a directory) is
// refused without being opened.
func LoadConfigFile(path string) (*Config, error) {
	if err := regular.Check(path); err != nil {
		return nil, fmt.Errorf("read model config: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model config: %w", err)
	}
	c, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses the contents of a config.json. Errors name the field.
func ParseConfig(data []byte) (*Config, error) {
	c, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, nil
}

// parseConfig is ParseConfig with errors that do not name the file.
func parseConfig(data []byte) (*Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return configFromMap(raw)
}

// ConfigFromMap builds a Config from a decoded config.json (numbers as
// float64, as encoding/json decodes them).
func ConfigFromMap(raw map[string]any) (*Config, error) {
	c, err := configFromMap(raw)
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, nil
}

// configFromMap is ConfigFromMap with errors that do not name the file.
func configFromMap(raw map[string]any) (*Config, error) {
	p := &cfgParser{raw: raw}
	c := &Config{Raw: raw}
	c.ModelType = p.str("model_type", "")
	if c.ModelType == "" {
		if p.err != nil {
			return nil, p.err
		}
		return nil, fmt.Errorf("field \"model_type\" is missing (supported: %s)",
			strings.Join(SupportedModelTypes(), ", "))
	}
	fam, ok := families[c.ModelType]
	if !ok {
		return nil, fmt.Errorf("model_type %q is not supported (supported: %s)",
			c.ModelType, strings.Join(SupportedModelTypes(), ", "))
	}
	c.Architectures = p.strings("architectures")
	c.Architecture = fam.defaultArch
	if len(c.Architectures) > 0 {
		c.Architecture = c.Architectures[0]
	}
	if !contains(fam.archs, c.Architecture) {
		return nil, fmt.Errorf("architecture %q of model_type %q is not supported (supported: %s)",
			c.Architecture, c.ModelType, strings.Join(fam.archs, ", "))
	}
	c.TaskType = taskOf(c.Architecture)
	c.PadTokenID = p.optInt("pad_token_id", -1)
	fam.parse(p, c)
	if _, ok := seqClsArch[c.ModelType]; ok {
		parseDecoderLabels(p, c)
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// taskOf derives the PEFT task type from a transformers class name.
func taskOf(arch string) string {
	switch {
	case strings.HasSuffix(arch, "ForCausalLM"), strings.HasSuffix(arch, "LMHeadModel"):
		return TaskCausalLM
	case strings.HasSuffix(arch, "ForConditionalGeneration"):
		return TaskSeq2SeqLM
	case strings.HasSuffix(arch, "ForSequenceClassification"):
		return TaskSeqCls
	}
	return TaskFeatureExtraction
}

func parseGPT2(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50257)
	c.Hidden = p.int("n_embd", 768)
	c.Layers = p.int("n_layer", 12)
	c.Heads = p.int("n_head", 12)
	c.KVHeads = c.Heads
	c.MaxPositions = p.int("n_positions", 1024)
	c.Intermediate = p.optInt("n_inner", 4*c.Hidden)
	c.NormEps = p.float("layer_norm_epsilon", 1e-5)
	c.Act = p.str("activation_function", "gelu_new")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.ScaleAttnWeights = p.bool("scale_attn_weights", true)
	c.ScaleAttnByInverseLayerIdx = p.bool("scale_attn_by_inverse_layer_idx", false)
	if p.bool("add_cross_attention", false) {
		p.fail("add_cross_attention", "cross attention in GPT-2 is not supported")
	}
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
}

func parseLlama(p *cfgParser, c *Config) {
	p.decoderSizes(c, decoderDefaults{vocab: 32000, hidden: 4096, inter: 11008, layers: 32, heads: 32, maxPos: 2048, eps: 1e-6})
	c.Act = p.str("hidden_act", "silu")
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", false)
	switch c.ModelType {
	case "qwen2":
		// Qwen2Attention always has q/k/v biases and a bias-free o_proj.
		c.QKVBias = true
		parseQwenWindow(p, c)
	case "qwen3":
		c.AttentionBias = p.bool("attention_bias", false)
		c.QKNorm = true
		if c.Heads > 0 {
			c.HeadDim = p.optInt("head_dim", 128) // Qwen3Config's default
		}
		parseQwenWindow(p, c)
	case "mistral":
		parseMistralWindow(p, c)
	default:
		c.AttentionBias = p.bool("attention_bias", false)
		c.MLPBias = p.bool("mlp_bias", false)
	}
	c.Rope = parseRope(p)
}

// parseRope reads rope_parameters (transformers 5) or rope_theta and
// rope_scaling (transformers 4).
func parseRope(p *cfgParser) RopeConfig { return parseRopeTheta(p, 10000) }

// parseRopeTheta is parseRope with the family's default rope_theta.
func parseRopeTheta(p *cfgParser, theta float64) RopeConfig {
	params, ok := p.raw["rope_parameters"].(map[string]any)
	if !ok {
		theta = p.float("rope_theta", theta)
		params, _ = p.raw["rope_scaling"].(map[string]any)
	}
	if params == nil {
		return RopeConfig{Theta: theta, Type: "default", Factor: 1}
	}
	sub := &cfgParser{raw: params, prefix: "rope_parameters."}
	if !ok {
		sub.prefix = "rope_scaling."
	}
	r := parseRopeParams(sub, theta, ok)
	if sub.err != nil && p.err == nil {
		p.err = sub.err
	}
	return r
}

// parseRopeParams reads one rope parameter object; withTheta says it may
// carry rope_theta (transformers 5's rope_parameters), theta is the
// default.
func parseRopeParams(sub *cfgParser, theta float64, withTheta bool) RopeConfig {
	r := RopeConfig{Theta: theta, Type: "default", Factor: 1}
	if withTheta {
		r.Theta = sub.float("rope_theta", theta)
	}
	r.Type = sub.str("rope_type", "")
	if r.Type == "" {
		r.Type = sub.str("type", "default")
	}
	switch r.Type {
	case "default":
	case "linear":
		r.Factor = sub.float("factor", 1)
	case "llama3":
		r.Factor = sub.float("factor", 8)
		r.LowFreqFactor = sub.float("low_freq_factor", 1)
		r.HighFreqFactor = sub.float("high_freq_factor", 4)
		r.OriginalMaxPositions = sub.int("original_max_position_embeddings", 8192)
	default:
		sub.fail("rope_type", fmt.Sprintf("rope type %q is not supported (supported: default, linear, llama3)", r.Type))
	}
	return r
}

func parseT5(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 32128)
	c.Hidden = p.int("d_model", 512)
	c.HeadDim = p.int("d_kv", 64)
	c.Intermediate = p.int("d_ff", 2048)
	c.Layers = p.int("num_layers", 6)
	c.DecoderLayers = p.optInt("num_decoder_layers", c.Layers)
	c.Heads = p.int("num_heads", 8)
	c.KVHeads = c.Heads
	c.RelAttnBuckets = p.int("relative_attention_num_buckets", 32)
	c.RelAttnMaxDistance = p.int("relative_attention_max_distance", 128)
	c.NormEps = p.float("layer_norm_epsilon", 1e-6)
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	// transformers 5 saves scale_decoder_outputs; older configs derive it
	// from tie_word_embeddings.
	c.ScaleDecoderOutputs = p.bool("scale_decoder_outputs", c.TieWordEmbeddings)
	proj := p.str("feed_forward_proj", "relu")
	parts := strings.Split(proj, "-")
	c.Act = parts[len(parts)-1]
	c.GatedFF = parts[0] == "gated"
	if (len(parts) > 1 && !c.GatedFF) || len(parts) > 2 {
		p.fail("feed_forward_proj", fmt.Sprintf("%q is not of the form ACT or gated-ACT", proj))
	}
	if proj == "gated-gelu" {
		c.Act = "gelu_new"
	}
	if c.PadTokenID < 0 {
		c.PadTokenID = 0
	}
	if _, set := p.raw["decoder_start_token_id"]; set {
		c.DecoderStartTokenID = p.optInt("decoder_start_token_id", c.PadTokenID)
	} else {
		c.DecoderStartTokenID = c.PadTokenID
	}
	c.hasDecoderStartToken = true
}

func parseBERT(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 30522)
	c.Hidden = p.int("hidden_size", 768)
	c.Layers = p.int("num_hidden_layers", 12)
	c.Heads = p.int("num_attention_heads", 12)
	c.KVHeads = c.Heads
	c.Intermediate = p.int("intermediate_size", 3072)
	c.Act = p.str("hidden_act", "gelu")
	c.MaxPositions = p.int("max_position_embeddings", 512)
	c.TypeVocabSize = p.int("type_vocab_size", 2)
	c.NormEps = p.float("layer_norm_eps", 1e-12)
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if pe := p.str("position_embedding_type", "absolute"); pe != "absolute" {
		p.fail("position_embedding_type", fmt.Sprintf("%q is not supported (only \"absolute\")", pe))
	}
	if c.ModelType == "roberta" && c.PadTokenID < 0 {
		c.PadTokenID = 1
	}
	parseLabels(p, c, 2)
}

// parseLabels reads a classification head's label count (id2label's
// size, else num_labels, else def: 2, BartConfig's 3) and problem_type.
func parseLabels(p *cfgParser, c *Config, def int) {
	if m, ok := p.raw["id2label"].(map[string]any); ok && len(m) > 0 {
		c.NumLabels = len(m)
	} else {
		c.NumLabels = p.optInt("num_labels", def)
	}
	c.ProblemType = p.str("problem_type", "")
	switch c.ProblemType {
	case "", "regression", "single_label_classification":
	default:
		p.fail("problem_type", fmt.Sprintf("%q is not supported (regression or single_label_classification)", c.ProblemType))
	}
}

// parseBART reads BartConfig (facebook/bart-base and -large): one head
// count and feed-forward width for both stacks, post-norm layers, learned
// positions and decoder_start_token_id 2.
func parseBART(p *cfgParser, c *Config) {
	c.VocabSize = p.int("vocab_size", 50265)
	c.Hidden = p.int("d_model", 1024)
	c.Layers = p.int("encoder_layers", 12)
	c.DecoderLayers = p.int("decoder_layers", 12)
	c.Heads = p.int("encoder_attention_heads", 16)
	c.KVHeads = c.Heads
	c.Intermediate = p.int("encoder_ffn_dim", 4096)
	if h := p.int("decoder_attention_heads", c.Heads); h != c.Heads {
		p.fail("decoder_attention_heads", fmt.Sprintf("%d differs from encoder_attention_heads %d (not supported)", h, c.Heads))
	}
	if f := p.int("decoder_ffn_dim", c.Intermediate); f != c.Intermediate {
		p.fail("decoder_ffn_dim", fmt.Sprintf("%d differs from encoder_ffn_dim %d (not supported)", f, c.Intermediate))
	}
	c.MaxPositions = p.int("max_position_embeddings", 1024)
	c.Act = p.str("activation_function", "gelu")
	c.EmbedScale = p.bool("scale_embedding", false)
	c.TieWordEmbeddings = p.bool("tie_word_embeddings", true)
	c.NormEps = 1e-5 // nn.LayerNorm's default; BartConfig has no epsilon
	if c.PadTokenID < 0 {
		c.PadTokenID = 1
	}
	c.EOSTokenID = p.optInt("eos_token_id", 2)
	c.DecoderStartTokenID = p.optInt("decoder_start_token_id", 2)
	c.hasDecoderStartToken = true
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	parseLabels(p, c, 3)
}

// validate checks the relations between fields the architectures rely on.
func (c *Config) validate() error {
	if err := c.checkSizes(); err != nil {
		return err
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("num_key_value_heads %d must divide num_attention_heads %d", c.KVHeads, c.Heads)
	}
	switch c.ModelType {
	case "gpt2", "bert", "roberta", "bart", "gpt_neox", "opt", "gptj", "gpt_neo", "bloom", "gpt_bigcode", "falcon":
		if c.Hidden%c.Heads != 0 {
			return fmt.Errorf("hidden size %d is not a multiple of the %d attention heads", c.Hidden, c.Heads)
		}
	}
	if c.HeadDim%2 != 0 && c.Rope.Theta > 0 && isLlamaFamily(c.ModelType) {
		return fmt.Errorf("head_dim %d must be even for rotary embeddings", c.HeadDim)
	}
	if c.RotaryDim%2 != 0 || c.RotaryDim > c.HeadDim || ((c.FusedProjections || c.ModelType == "phi" || c.ModelType == "gpt_neox" || c.ModelType == "gptj") && c.RotaryDim == 0) {
		return fmt.Errorf("the rotary dimension %d (head_dim · partial_rotary_factor) must be even, positive and at most head_dim %d", c.RotaryDim, c.HeadDim)
	}
	if err := c.validateLayerTypes(); err != nil {
		return err
	}
	return nil
}

// isLlamaFamily reports whether model_type t is built by buildLlama.
func isLlamaFamily(t string) bool {
	switch t {
	case "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "mixtral":
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// with returns a copy of c built as another architecture of the same
// model_type and/or with numLabels classification labels; Raw is updated
// so that Save writes the new head's config.
func (c *Config) with(arch string, numLabels int) (*Config, error) {
	if numLabels > MaxDimension {
		return nil, fmt.Errorf("num_labels must be in [1, %d], got %d", MaxDimension, numLabels)
	}
	raw := make(map[string]any, len(c.Raw)+2)
	for k, v := range c.Raw {
		raw[k] = v
	}
	if arch != "" {
		raw["architectures"] = []any{arch}
	}
	if numLabels > 0 {
		id2label, label2id := map[string]any{}, map[string]any{}
		for i := 0; i < numLabels; i++ {
			name := fmt.Sprintf("LABEL_%d", i)
			id2label[fmt.Sprint(i)] = name
			label2id[name] = float64(i)
		}
		raw["id2label"], raw["label2id"] = id2label, label2id
		delete(raw, "num_labels")
	}
	return ConfigFromMap(raw)
}
