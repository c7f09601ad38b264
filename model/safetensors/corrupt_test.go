package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawFile assembles a safetensors file from a header and a data section.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// TestOpenRejectsCorruptFiles checks that every kind of damage is refused
// with ErrCorrupt and an error naming the file and, where one is involved,
// the tensor.
func TestOpenRejectsCorruptFiles(t *testing.T) {
	data16 := make([]byte, 16)
	valid := rawFile(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, data16)
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<40)
	pastEOF := make([]byte, 16)
	binary.LittleEndian.PutUint64(pastEOF, 9)

	for _, tc := range []struct {
		name   string
		file   []byte
		tensor string // "" when the damage is not tied to one tensor
		msg    string
	}{
		{"too short", []byte{1, 2, 3}, "", "too short"},
		{"truncated data", valid[:len(valid)-4], "w", "run past"},
		{"header length past EOF", pastEOF, "", "past the end"},
		{"header length absurd", hugeLen, "", "exceeds"},
		{"offset past end", rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`, data16), "w", "run past"},
		{"reversed offsets", rawFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}`, data16), "w", "ordered"},
		{"negative offset", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, data16), "w", "ordered"},
		{"overlapping tensors", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data16), "b", `overlap tensor "a"`},
		{"shape byte mismatch", rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`, data16), "w", "needs 12 bytes"},
		{"shape overflow", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`, data16), "w", "more bytes than"},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}`, data16), "w", "negative"},
		{"empty tensor with bytes", rawFile(`{"w":{"dtype":"F32","shape":[2,0],"data_offsets":[0,8]}}`, data16), "w", "needs 0 bytes"},
		{"unknown dtype", rawFile(`{"w":{"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]}}`, data16), "w", `unknown dtype "F8_E4M3"`},
		{"missing dtype", rawFile(`{"w":{"shape":[4],"data_offsets":[0,16]}}`, data16), "w", "lacks dtype"},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,16]}}`, data16), "w", "lacks shape"},
		{"missing offsets", rawFile(`{"w":{"dtype":"F32","shape":[4]}}`, data16), "w", "lacks data_offsets"},
		{"three offsets", rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8,16]}}`, data16), "w", "3 values"},
		{"entry not an object", rawFile(`{"w":[1,2]}`, data16), "w", "bad entry"},
		{"bad JSON", rawFile(`{"w":{"dtype":"F32",`, data16), "", "JSON"},
		{"not an object", rawFile(`[1,2,3] `, data16), "", "not a JSON object"},
		{"trailing garbage", rawFile(`{}{}`, nil), "", "trailing"},
		{"duplicate tensor", rawFile(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, data16), "w", "duplicate"},
		{"metadata not strings", rawFile(`{"__metadata__":{"n":1}}`, nil), "__metadata__", "strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			require.NoError(t, os.WriteFile(path, tc.file, 0o644))
			f, err := Open(path)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, path)
			if tc.tensor != "" {
				assert.ErrorContains(t, err, `tensor "`+tc.tensor+`"`)
			}
			assert.ErrorContains(t, err, tc.msg)
		})
	}
}

// TestEmptyTensors checks that a zero dimension anywhere in the shape
// makes a valid empty tensor: [2, 0] was refused as needing more bytes
// than the data section while [0, 2] was accepted.
func TestEmptyTensors(t *testing.T) {
	for _, shape := range []string{"[0]", "[0,2]", "[2,0]", "[3,0,4294967296]", "[4294967296,4294967296,0]"} {
		t.Run(shape, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "e.safetensors")
			require.NoError(t, os.WriteFile(path, rawFile(`{"e":{"dtype":"F32","shape":`+shape+`,"data_offsets":[0,0]}}`, nil), 0o644))
			f, err := Open(path)
			require.NoError(t, err)
			defer f.Close()
			info, ok := f.Info("e")
			require.True(t, ok)
			assert.Equal(t, 0, info.NumElements())
			v, err := f.Float32("e")
			require.NoError(t, err)
			assert.Empty(t, v)
		})
	}
}

// TestMissingTensorAndClosedFile checks lookups of absent names and use
// after Close.
func TestMissingTensorAndClosedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, Write(path, []Tensor{F32Tensor("w", []int{2}, []float32{1, 2})}, nil))
	f, err := Open(path)
	require.NoError(t, err)

	_, ok := f.Info("nope")
	assert.False(t, ok)
	for _, get := range []func(string) error{
		func(n string) error { _, err := f.Bytes(n); return err },
		func(n string) error { _, err := f.Float32(n); return err },
		func(n string) error { _, err := f.Int64(n); return err },
		func(n string) error { _, err := f.Int32(n); return err },
	} {
		err := get("nope")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.ErrorContains(t, err, path)
		assert.ErrorContains(t, err, `tensor "nope"`)
	}

	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	_, err = f.Float32("w")
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorContains(t, err, `tensor "w"`)
}
