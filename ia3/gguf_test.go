package ia3

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/modeltest"
)

// TestPEFTAdapterOnGGUFBase attaches the adapters PEFT trained on the
// llama, mistral and qwen2 fixture checkpoints to the F32 GGUF files
// llama.cpp's gguf-py made of those checkpoints: the module names match,
// and the logits are transformers' logits_a and logits_merged_a.
func TestPEFTAdapterOnGGUFBase(t *testing.T) {
	b := cpu(t)
	root, ok := modeltest.ModuleRoot()
	require.True(t, ok)
	for _, name := range []string{"llama", "mistral", "qwen2"} {
		t.Run(name, func(t *testing.T) {
			dir := modeltest.Path(t, "peft/"+name)
			exp, err := modeltest.ReadTensors(filepath.Join(dir, "expected.safetensors"))
			require.NoError(t, err)
			in, err := model.InputsFromSafetensors(filepath.Join(dir, "inputs.safetensors"))
			require.NoError(t, err)
			pc := &parityCase{t: t, b: b, dir: dir, exp: exp, in: in, task: model.TaskCausalLM}
			base, err := model.Load(context.Background(), filepath.Join(root, "testdata", "gguf", name+"-f32.gguf"), b)
			require.NoError(t, err)
			t.Cleanup(base.Free)
			m, err := FromPretrained(base, filepath.Join(dir, "adapters", "a"), "a", false)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, m.Close()) })
			pc.check("gguf base + a", "logits_a", base)
			require.NoError(t, m.Merge(true))
			pc.check("gguf base merged a", "logits_merged_a", base)
		})
	}
}
