package torchbin

import (
	"bytes"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ia3/ia3/model/safetensors"
)

// testdata is where testdata/torchbin/make_bin.py put the files torch.save
// wrote.
var testdata = filepath.Join("..", "..", "testdata", "torchbin")

// fixtureBase is the qwen2 fixture checkpoint the .bin files were made from.
var fixtureBase = filepath.Join("..", "..", "testdata", "fixtures", "peft", "qwen2", "base", "model.safetensors")

// openTwin opens a torch file and the safetensors file holding the same
// tensors.
func openTwin(t *testing.T, bin, st string) (*File, *safetensors.File) {
	t.Helper()
	f, err := Open(bin)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	s, err := safetensors.Open(st)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return f, s
}

// TestViewsEqualTwin reads views, offsets, strides, shared storages, a
// Parameter and every float dtype torch.save wrote (with its default
// pickle protocol 2 and with protocol 4), and compares each with the
// contiguous copy torch wrote to the safetensors twin.
func TestViewsEqualTwin(t *testing.T) {
	for _, file := range []string{"views.bin", "protocol4.bin"} {
		t.Run(file, func(t *testing.T) {
			checkViews(t, filepath.Join(testdata, "views", file))
		})
	}
}

// checkViews compares the torch file at path with views.safetensors.
func checkViews(t *testing.T, path string) {
	f, s := openTwin(t, path, filepath.Join(testdata, "views", "views.safetensors"))
	require.Equal(t, s.Names(), f.Names())
	for _, name := range s.Names() {
		t.Run(name, func(t *testing.T) {
			want, _ := s.Info(name)
			got, ok := f.Info(name)
			require.True(t, ok)
			assert.Equal(t, want.DType, got.DType)
			assert.Equal(t, want.Shape, got.Shape)
			assert.Equal(t, want.Size, got.Size)
			wb, err := s.Bytes(name)
			require.NoError(t, err)
			gb, err := f.Bytes(name)
			require.NoError(t, err)
			assert.Equal(t, wb, gb)
		})
	}
	// Spot-check decoded values: base = arange(24)/8 - 1 as [4, 6].
	tr, err := f.Float32("transposed")
	require.NoError(t, err)
	assert.Equal(t, []float32{-1, -0.25, 0.5, 1.25, -0.875}, tr[:5])
	p, err := f.Float32("param")
	require.NoError(t, err)
	assert.Equal(t, float32(-2), p[0])
	assert.Equal(t, float32(2), p[9])
	i, err := f.Int64("i64")
	require.NoError(t, err)
	assert.Equal(t, []int64{-3, -2, -1, 0, 1, 2, 3}, i)
	_, err = f.Float32("i64")
	assert.ErrorIs(t, err, safetensors.ErrDType)
}

// TestLegacyFormatRefused opens a file torch 1.13 wrote with
// _use_new_zipfile_serialization=False.
func TestLegacyFormatRefused(t *testing.T) {
	path := filepath.Join(testdata, "views", "legacy.bin")
	_, err := Open(path)
	require.ErrorIs(t, err, ErrLegacy)
	assert.Equal(t, "torchbin: "+path+": "+ErrLegacy.Error(), err.Error())
}

func TestArchiveDirNamedArchive(t *testing.T) {
	f, err := Open(filepath.Join(testdata, "views", "renamed.bin"))
	require.NoError(t, err)
	defer f.Close()
	v, err := f.Float32("x")
	require.NoError(t, err)
	require.Len(t, v, 24)
	assert.Equal(t, float32(-1), v[0])
	assert.Equal(t, float32(23.0/8-1), v[23])
}

// roundBF16 rounds to bfloat16 (nearest, ties to even) as torch's
// .bfloat16() does, widened back.
func roundBF16(x float32) float32 {
	b := math.Float32bits(x)
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

// TestQwen2MatchesFixture compares every tensor of the qwen2 checkpoint
// torch.save wrote (float32, float16, bfloat16 in two shards) with the
// safetensors fixture it was made from; lm_head.weight shares the
// embedding table's storage.
func TestQwen2MatchesFixture(t *testing.T) {
	ref, err := safetensors.Open(fixtureBase)
	require.NoError(t, err)
	defer ref.Close()
	tests := []struct {
		name  string
		dir   string
		dtype string
		near  func(want, got float32) bool
	}{
		{"f32", "qwen2_f32", safetensors.F32, func(w, g float32) bool { return w == g }},
		{"f16", "qwen2_f16", safetensors.F16, func(w, g float32) bool {
			return math.Abs(float64(w-g)) <= math.Abs(float64(w))/2048+1.0/(1<<25)
		}},
		{"bf16 sharded", "qwen2_bf16_sharded", safetensors.BF16, func(w, g float32) bool { return roundBF16(w) == g }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ck, err := OpenDir(filepath.Join(testdata, tc.dir))
			require.NoError(t, err)
			defer ck.Close()
			names := ref.Names()
			if tc.dir != "qwen2_bf16_sharded" {
				names = append(names, "lm_head.weight")
			}
			assert.ElementsMatch(t, names, ck.Names())
			for _, name := range ck.Names() {
				src := name
				if name == "lm_head.weight" {
					src = "model.embed_tokens.weight"
				}
				want, err := ref.Float32(src)
				require.NoError(t, err)
				info, _ := ck.Info(name)
				wi, _ := ref.Info(src)
				assert.Equal(t, tc.dtype, info.DType, name)
				assert.Equal(t, wi.Shape, info.Shape, name)
				got, err := ck.Float32(name)
				require.NoError(t, err)
				require.Len(t, got, len(want), name)
				bad := 0
				for i := range want {
					if !tc.near(want[i], got[i]) {
						bad++
					}
				}
				assert.Zero(t, bad, "%s: %d of %d values differ", name, bad, len(want))
			}
		})
	}
}

// TestTorch2Layout reads an archive laid out as torch 2.x writes it:
// byteorder, .format_version, .storage_alignment and
// .data/serialization_id beside data.pkl, records in another order.
func TestTorch2Layout(t *testing.T) {
	data := make([]byte, 8)
	data[1], data[3], data[5], data[7] = 0x3c, 0x40, 0x42, 0x44 // float16 1, 2, 3, 4
	pkl := stateDict(view{name: "h", storageType: "HalfStorage", key: "0", numel: 4, size: []int64{2, 2}, stride: []int64{2, 1}})
	raw := zipOf(t,
		rec("pytorch_model/data.pkl", pkl),
		rec("pytorch_model/.format_version", []byte("1")),
		rec("pytorch_model/.storage_alignment", []byte("64")),
		rec("pytorch_model/byteorder", []byte("little")),
		rec("pytorch_model/data/0", data),
		rec("pytorch_model/version", []byte("3\n")),
		rec("pytorch_model/.data/serialization_id", []byte("1234567890")),
	)
	f, err := openReader("t2.bin", bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)
	v, err := f.Float32("h")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3, 4}, v)
}

// TestOpenDirIndexErrors: pytorch_model.bin.index.json is held to the
// safetensors index rules, with messages naming the torch files.
func TestOpenDirIndexErrors(t *testing.T) {
	src := filepath.Join(testdata, "qwen2_bf16_sharded")
	shard := "pytorch_model-00001-of-00002.bin"
	tests := []struct {
		name, index, want string
	}{
		{"tensor not in its shard", `{"weight_map": {"nope": "` + shard + `"}}`, `tensor "nope" is mapped to shard`},
		{"shard outside the directory", `{"weight_map": {"x": "../` + shard + `"}}`, "is not a file name inside the directory"},
		{"missing shard", `{"weight_map": {"x": "pytorch_model-00009-of-00009.bin"}}`, "pytorch_model-00009-of-00009.bin"},
		{"empty weight_map", `{"weight_map": {}}`, "no weight_map entries"},
		{"bad JSON", `{`, "bad index JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			raw, err := os.ReadFile(filepath.Join(src, shard))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, shard), raw, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFileName), []byte(tc.index), 0o644))
			_, err = OpenDir(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "torchbin: ")
		})
	}
	_, err := OpenDir(t.TempDir())
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), SingleFileName)
}
