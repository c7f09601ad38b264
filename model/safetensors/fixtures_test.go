package safetensors_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/modeltest"
	"github.com/ia3/ia3/model/safetensors"
)

// TestOpenEveryFixture opens every safetensors file of every PEFT case and
// decodes every tensor, checking element counts against shapes.
func TestOpenEveryFixture(t *testing.T) {
	root := modeltest.Path(t, "peft")
	var files []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".safetensors" {
			files = append(files, p)
		}
		return err
	}))
	require.NotEmpty(t, files)
	for _, p := range files {
		rel, _ := filepath.Rel(root, p)
		t.Run(rel, func(t *testing.T) {
			f, err := safetensors.Open(p)
			require.NoError(t, err)
			defer func() { require.NoError(t, f.Close()) }()
			names := f.Names()
			require.NotEmpty(t, names)
			assert.True(t, slices.IsSorted(names))
			for _, n := range names {
				info, ok := f.Info(n)
				require.True(t, ok, n)
				switch info.DType {
				case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
					v, err := f.Float32(n)
					require.NoError(t, err, n)
					assert.Len(t, v, info.NumElements(), n)
				default:
					v, err := f.Int64(n)
					require.NoError(t, err, n)
					assert.Len(t, v, info.NumElements(), n)
				}
			}
		})
	}
}

// TestFixtureKnownValues checks names, shapes and values read from the
// GPT-2 case against what Python's safetensors reads.
func TestFixtureKnownValues(t *testing.T) {
	gpt2 := modeltest.NamedCase(t, "gpt2").Dir

	in, err := safetensors.Open(filepath.Join(gpt2, "inputs.safetensors"))
	require.NoError(t, err)
	defer in.Close()
	assert.Equal(t, []string{"attention_mask", "input_ids", "labels"}, in.Names())
	assert.Nil(t, in.Metadata())
	ids, err := in.Int64("input_ids")
	require.NoError(t, err)
	assert.Equal(t, []int64{13, 213, 71, 115, 205, 138, 7, 127, 128, 128, 213, 69, 239, 88, 128, 0, 0, 0}, ids)
	mask32, err := in.Int32("attention_mask")
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, mask32)
	info, ok := in.Info("labels")
	require.True(t, ok)
	assert.Equal(t, safetensors.TensorInfo{DType: safetensors.I64, Shape: []int{2, 9}, Offset: 288, Size: 144}, info)
	_, err = in.Float32("input_ids")
	assert.ErrorIs(t, err, safetensors.ErrDType)

	ck, err := safetensors.OpenDir(filepath.Join(gpt2, "base"))
	require.NoError(t, err)
	defer ck.Close()
	assert.Len(t, ck.Names(), 28)
	assert.Equal(t, map[string]string{"format": "pt"}, ck.Metadata())
	info, ok = ck.Info("transformer.wte.weight")
	require.True(t, ok)
	assert.Equal(t, []int{256, 64}, info.Shape)
	w, err := ck.Float32("transformer.h.0.attn.c_attn.weight")
	require.NoError(t, err)
	require.Len(t, w, 64*192)
	assert.Equal(t, []float32{0.14504902064800262, 0.07286164164543152, -0.04527240991592407}, w[:3])
	assert.Equal(t, float32(0.06712506711483002), w[len(w)-1])
	_, err = ck.Float32("lm_head.weight") // tied, so not stored
	assert.ErrorIs(t, err, safetensors.ErrNotFound)
	assert.ErrorContains(t, err, "lm_head.weight")
}

// TestRewriteFixtureIsByteIdentical re-saves a PEFT adapter and a batch of
// integer inputs and expects exactly the bytes Python wrote.
func TestRewriteFixtureIsByteIdentical(t *testing.T) {
	peft := modeltest.Path(t, "peft")
	for _, tc := range []struct {
		rel  string
		meta map[string]string
	}{
		{"t5/adapters/a/adapter_model.safetensors", nil},
		{"gpt2/inputs.safetensors", map[string]string{}},
		{"llama/expected.safetensors", map[string]string{}},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			src := filepath.Join(peft, tc.rel)
			f, err := safetensors.Open(src)
			require.NoError(t, err)
			defer f.Close()
			var ts []safetensors.Tensor
			for _, n := range f.Names() {
				info, _ := f.Info(n)
				b, err := f.Bytes(n)
				require.NoError(t, err)
				ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: b})
			}
			out := filepath.Join(t.TempDir(), "out.safetensors")
			require.NoError(t, safetensors.Write(out, ts, tc.meta))
			want, err := os.ReadFile(src)
			require.NoError(t, err)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}
