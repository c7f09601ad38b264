package ia3

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/nn"
)

// fixtureCases returns the directories of every PEFT fixture case.
func fixtureCases(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, c := range modeltest.Cases(t) {
		out = append(out, c.Dir)
	}
	return out
}

// treeBuilder builds hand-made module trees for tests that need no model.
type treeBuilder struct {
	mods []nn.NamedModule
}

func (b *treeBuilder) container(name, class string) *treeBuilder {
	b.mods = append(b.mods, nn.NamedModule{Name: name, Module: &nn.Container{Class: class}})
	return b
}

func (b *treeBuilder) linear(name string, in, out int, fanInFanOut, bias bool) *treeBuilder {
	l := &nn.Linear{In: in, Out: out, FanInFanOut: fanInFanOut, Weight: &nn.Param{Name: name + ".weight"}}
	if bias {
		l.Bias = &nn.Param{Name: name + ".bias"}
	}
	b.mods = append(b.mods, nn.NamedModule{Name: name, Module: l})
	return b
}

func (b *treeBuilder) norm(name string) *treeBuilder {
	b.mods = append(b.mods, nn.NamedModule{Name: name, Module: &nn.Norm{Class: "LayerNorm", Weight: &nn.Param{Name: name + ".weight"}}})
	return b
}

// gpt2Tree is a two-block GPT-2 LM module tree (Conv1D layers).
func gpt2Tree() []nn.NamedModule {
	b := &treeBuilder{}
	b.container("", "GPT2LMHeadModel").container("transformer", "GPT2Model")
	for _, i := range []string{"0", "1"} {
		p := "transformer.h." + i
		b.container(p, "GPT2Block").norm(p+".ln_1").container(p+".attn", "GPT2Attention").
			linear(p+".attn.c_attn", 8, 24, true, true).linear(p+".attn.c_proj", 8, 8, true, true).
			norm(p+".ln_2").container(p+".mlp", "GPT2MLP").
			linear(p+".mlp.c_fc", 8, 32, true, true).linear(p+".mlp.c_proj", 32, 8, true, true)
	}
	b.norm("transformer.ln_f").linear("lm_head", 8, 50, false, false)
	return b.mods
}

// bertTree is a one-layer BERT sequence classifier module tree.
func bertTree() []nn.NamedModule {
	b := &treeBuilder{}
	b.container("", "BertForSequenceClassification").container("bert", "BertModel").
		container("bert.encoder.layer.0", "BertLayer").
		linear("bert.encoder.layer.0.attention.self.query", 8, 8, false, true).
		linear("bert.encoder.layer.0.attention.self.key", 8, 8, false, true).
		linear("bert.encoder.layer.0.attention.self.value", 8, 8, false, true).
		linear("bert.encoder.layer.0.attention.output.dense", 8, 8, false, true).
		linear("bert.encoder.layer.0.intermediate.dense", 8, 16, false, true).
		linear("bert.encoder.layer.0.output.dense", 16, 8, false, true).
		container("bert.pooler", "BertPooler").linear("bert.pooler.dense", 8, 8, false, true).
		linear("classifier", 8, 3, false, true)
	return b.mods
}

// structureModel attaches cfg to a hand-made tree without a backend.
func structureModel(t *testing.T, mods []nn.NamedModule, modelType, task string, cfg *Config) (*Model, error) {
	t.Helper()
	out := "lm_head"
	if task == TaskSeqCls {
		out = "classifier"
	}
	return newModel(baseInfo{modules: mods, outputLayer: out, modelType: modelType, taskType: task}, nil, nil, cfg, DefaultAdapter)
}

func float32frombits(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

func itoa(n int) string { return strconv.Itoa(n) }

func shapeString(s []int) string { return fmt.Sprint(s) }

// fileExistsAt reports whether path exists.
func fileExistsAt(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
