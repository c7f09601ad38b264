package safetensors

import (
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteRoundTrip writes tensors out of order and reads them back in
// sorted order with identical values, and checks the padded header.
func TestWriteRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	in := []Tensor{
		F32Tensor("z.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		{Name: "a.mask", DType: U8, Shape: []int{3}, Data: []byte{1, 0, 1}},
		I64Tensor("m.ids", []int{2}, []int64{-5, 9}),
	}
	require.NoError(t, Write(path, in, nil))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, []string{"a.mask", "m.ids", "z.weight"}, f.Names())
	assert.Equal(t, DefaultMetadata(), f.Metadata())
	w, err := f.Float32("z.weight")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3, 4, 5, 6}, w)
	ids, err := f.Int64("m.ids")
	require.NoError(t, err)
	assert.Equal(t, []int64{-5, 9}, ids)
	// Larger elements come first so every tensor stays naturally aligned.
	info, _ := f.Info("m.ids")
	assert.Equal(t, int64(0), info.Offset)
	info, _ = f.Info("z.weight")
	assert.Equal(t, int64(16), info.Offset)
	info, _ = f.Info("a.mask")
	assert.Equal(t, int64(40), info.Offset)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Zero(t, binary.LittleEndian.Uint64(raw)%8, "header padded to 8 bytes")
}

// TestWriteRejectsBadInputAtomically checks that invalid tensors and
// unwritable paths leave neither a partial file nor a temporary file, and
// that an existing file survives a failed overwrite.
func TestWriteRejectsBadInputAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.safetensors")
	good := []Tensor{F32Tensor("w", []int{1}, []float32{7})}
	require.NoError(t, Write(path, good, nil))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		tensors []Tensor
		msg     string
	}{
		{"byte mismatch", []Tensor{{Name: "w", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, "needs 8 bytes, got 4"},
		{"unknown dtype", []Tensor{{Name: "w", DType: "F8", Shape: []int{1}, Data: []byte{0}}}, `unknown dtype "F8"`},
		{"duplicate", append(good, good...), "duplicate"},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{1}, Data: []byte{0}}}, "reserved"},
		{"negative dim", []Tensor{{Name: "w", DType: U8, Shape: []int{-1}}}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(path, tc.tensors, nil)
			require.Error(t, err)
			assert.ErrorContains(t, err, path)
			assert.ErrorContains(t, err, tc.msg)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after)
		})
	}
	missing := filepath.Join(dir, "missing", "x.safetensors")
	err = Write(missing, good, nil)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, missing)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left behind")
	assert.Equal(t, "keep.safetensors", entries[0].Name())
}

// TestOpenDir covers single-file and sharded checkpoints and the index
// errors: a shard file that is missing, and a name its shard lacks.
func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Write(filepath.Join(dir, "model-00001-of-00002.safetensors"),
		[]Tensor{F32Tensor("a", []int{1}, []float32{1}), F32Tensor("b", []int{2}, []float32{2, 3})}, nil))
	require.NoError(t, Write(filepath.Join(dir, "model-00002-of-00002.safetensors"),
		[]Tensor{I64Tensor("c", []int{1}, []int64{4})}, nil))
	writeIndex := func(body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFileName), []byte(body), 0o644))
	}
	writeIndex(`{"metadata":{"total_size":20},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}`)

	ck, err := OpenDir(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, ck.Names())
	assert.Equal(t, map[string]string{"total_size": "20"}, ck.Metadata())
	b, err := ck.Float32("b")
	require.NoError(t, err)
	assert.Equal(t, []float32{2, 3}, b)
	c, err := ck.Int32("c")
	require.NoError(t, err)
	assert.Equal(t, []int32{4}, c)
	info, ok := ck.Info("c")
	require.True(t, ok)
	assert.Equal(t, I64, info.DType)
	_, err = ck.Bytes("d")
	assert.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, ck.Close())

	for _, tc := range []struct {
		name, index string
		want        []string
	}{
		{"missing shard file", `{"weight_map":{"a":"model-00001-of-00002.safetensors","x":"gone.safetensors"}}`, []string{`tensor "x"`, "gone.safetensors"}},
		{"name missing from shard", `{"weight_map":{"c":"model-00001-of-00002.safetensors"}}`, []string{`tensor "c"`, "model-00001-of-00002.safetensors", "lacks"}},
		{"shard outside dir", `{"weight_map":{"a":"../model-00001-of-00002.safetensors"}}`, []string{`tensor "a"`, "not a file name"}},
		{"bad JSON", `{"weight_map":`, []string{IndexFileName, "bad index JSON"}},
		{"empty map", `{"weight_map":{}}`, []string{"no weight_map entries"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeIndex(tc.index)
			_, err := OpenDir(dir)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}

	single := t.TempDir()
	_, err = OpenDir(single)
	assert.ErrorContains(t, err, SingleFileName)
	require.NoError(t, Write(filepath.Join(single, SingleFileName), []Tensor{F32Tensor("w", []int{1}, []float32{5})}, nil))
	ck, err = OpenDir(single)
	require.NoError(t, err)
	defer ck.Close()
	w, err := ck.Float32("w")
	require.NoError(t, err)
	assert.Equal(t, []float32{5}, w)
}

// TestWriteShardedRoundTrip splits tensors over shards by the byte limit
// and reads them back through OpenDir.
func TestWriteShardedRoundTrip(t *testing.T) {
	tensors := []Tensor{
		F32Tensor("a", []int{4}, []float32{1, 2, 3, 4}), // 16 bytes
		F32Tensor("b", []int{2}, []float32{5, 6}),       // 8 bytes
		F32Tensor("c", []int{8}, make([]float32, 8)),    // 32 bytes, over the limit alone
		F32Tensor("d", []int{1}, []float32{7}),
	}
	dir := t.TempDir()
	require.NoError(t, WriteSharded(dir, tensors, nil, 24))
	for _, name := range []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", IndexFileName} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
	ck, err := OpenDir(dir)
	require.NoError(t, err)
	defer ck.Close()
	assert.Equal(t, []string{"a", "b", "c", "d"}, ck.Names())
	assert.Equal(t, map[string]string{"total_size": "60"}, ck.Metadata())
	d, err := ck.Float32("d")
	require.NoError(t, err)
	assert.Equal(t, []float32{7}, d)

	single := t.TempDir()
	require.NoError(t, WriteSharded(single, tensors, nil, 1<<20))
	assert.FileExists(t, filepath.Join(single, SingleFileName))
	assert.NoFileExists(t, filepath.Join(single, IndexFileName))
	assert.ErrorContains(t, WriteSharded(single, tensors, nil, 0), "must be positive")
}
