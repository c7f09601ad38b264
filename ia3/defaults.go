package ia3

import "slices"

// defaults is PEFT 0.21's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING
// and ..._FEEDFORWARD_MODULES_MAPPING (peft/utils/constants.py): the modules
// an IA3Config without target_modules / feedforward_modules adapts, by
// config.json model_type.
var defaults = map[string]struct{ target, feedforward []string }{
	"t5":              {[]string{"k", "v", "wo"}, []string{"wo"}},
	"mt5":             {[]string{"k", "v", "wi_1"}, []string{}},
	"gpt2":            {[]string{"c_attn", "mlp.c_proj"}, []string{"mlp.c_proj"}},
	"bloom":           {[]string{"query_key_value", "mlp.dense_4h_to_h"}, []string{"mlp.dense_4h_to_h"}},
	"roberta":         {[]string{"key", "value", "output.dense"}, []string{"output.dense"}},
	"opt":             {[]string{"q_proj", "k_proj", "fc2"}, []string{"fc2"}},
	"gptj":            {[]string{"q_proj", "v_proj", "fc_out"}, []string{"fc_out"}},
	"gpt_neox":        {[]string{"query_key_value", "dense_4h_to_h"}, []string{"dense_4h_to_h"}},
	"gpt_neo":         {[]string{"q_proj", "v_proj", "c_proj"}, []string{"c_proj"}},
	"bart":            {[]string{"q_proj", "v_proj", "fc2"}, []string{"fc2"}},
	"gpt_bigcode":     {[]string{"c_attn", "mlp.c_proj"}, []string{"mlp.c_proj"}},
	"llama":           {[]string{"k_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"llama4":          {[]string{"q_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"mistral":         {[]string{"k_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"mixtral":         {[]string{"k_proj", "v_proj", "w2"}, []string{"w2"}},
	"bert":            {[]string{"key", "value", "output.dense"}, []string{"output.dense"}},
	"deberta-v2":      {[]string{"key_proj", "value_proj", "output.dense"}, []string{"output.dense"}},
	"deberta":         {[]string{"in_proj", "output.dense"}, []string{"output.dense"}},
	"RefinedWebModel": {[]string{"query_key_value", "dense_4h_to_h"}, []string{"dense_4h_to_h"}},
	"RefinedWeb":      {[]string{"query_key_value", "dense_4h_to_h"}, []string{"dense_4h_to_h"}},
	"falcon":          {[]string{"query_key_value", "dense_4h_to_h"}, []string{"dense_4h_to_h"}},
	"phi":             {[]string{"q_proj", "v_proj", "fc2"}, []string{"fc2"}},
	"gemma":           {[]string{"q_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"gemma2":          {[]string{"q_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"gemma3_text":     {[]string{"q_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"qwen2":           {[]string{"q_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
	"qwen3":           {[]string{"q_proj", "v_proj", "down_proj"}, []string{"down_proj"}},
}

// DefaultTargetModules returns PEFT's default IA3 target modules for a
// model_type, and whether PEFT has one.
func DefaultTargetModules(modelType string) ([]string, bool) {
	d, ok := defaults[modelType]
	return slices.Clone(d.target), ok
}

// DefaultFeedforwardModules returns PEFT's default IA3 feed-forward modules
// for a model_type, and whether PEFT has one.
func DefaultFeedforwardModules(modelType string) ([]string, bool) {
	d, ok := defaults[modelType]
	if !ok {
		return nil, false
	}
	return slices.Clone(d.feedforward), true
}

// DefaultModelTypes lists the model types with defaults, sorted.
func DefaultModelTypes() []string { return sortedKeys(defaults) }

// seqClsHeads are the modules PEFT's PeftModelForSequenceClassification
// adds to modules_to_save ("classifier", "score"): the classification head
// is freshly initialised and must train and be saved.
var seqClsHeads = []string{"classifier", "score"}
