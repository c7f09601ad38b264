package train

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spmModel encodes a tiny SentencePiece Unigram model (ModelProto) whose
// first three pieces are <pad>, </s> (control) and <unk> (unknown).
func spmModel(words []string) []byte {
	field := func(b []byte, num int, payload []byte) []byte {
		b = binary.AppendUvarint(b, uint64(num)<<3|2)
		return append(binary.AppendUvarint(b, uint64(len(payload))), payload...)
	}
	piece := func(s string, score float32, typ uint64) []byte {
		p := field(nil, 1, []byte(s))
		p = binary.AppendUvarint(p, 2<<3|5)
		p = binary.LittleEndian.AppendUint32(p, math.Float32bits(score))
		return binary.AppendUvarint(binary.AppendUvarint(p, 3<<3), typ)
	}
	var m []byte
	for i, s := range []string{"<pad>", "</s>", "<unk>"} {
		m = field(m, 1, piece(s, 0, []uint64{3, 3, 2}[i]))
	}
	for i, w := range words {
		m = field(m, 1, piece(w, -float32(i+1), 1))
	}
	trainer := binary.AppendUvarint(binary.AppendUvarint(nil, 40<<3), 2) // unk_id 2
	return field(m, 2, trainer)
}

// TestRunSentencePieceTokenizer trains a model whose directory has no
// tokenizer.json but a SentencePiece spiece.model, as T5 and ALBERT repos
// ship them: the data is tokenised with the converted model.
func TestRunSentencePieceTokenizer(t *testing.T) {
	dir := modelDir(t, "gpt2")
	require.NoError(t, os.Remove(filepath.Join(dir, "tokenizer.json")))
	words := []string{"▁the", "▁cat", "▁sat", "▁a", "▁dog", "▁ran", "▁birds", "▁sing", "▁fish", "▁swim", "▁sun", "▁shines",
		"▁rain", "▁falls", "▁and", ".", "▁"}
	for r := 'a'; r <= 'z'; r++ {
		words = append(words, string(r))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "spiece.model"), spmModel(words), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"tokenizer_class": "T5Tokenizer", "extra_ids": 0}`), 0o644))

	tok, err := loadTokenizer(dir)
	require.NoError(t, err)
	enc, err := tok.Encode("the cat sat.")
	require.NoError(t, err)
	assert.Equal(t, []string{"▁the", "▁cat", "▁sat", ".", "</s>"}, enc.Tokens)
	assert.Equal(t, []int{3, 4, 5, 18, 1}, enc.IDs)

	res, err := Run(context.Background(), Options{ModelDir: dir, TrainFile: writeJSONL(t, textLines(8)...),
		OutDir: t.TempDir(), Backend: openCPU(t), BatchSize: 4, Epochs: 1, LR: 0.05, Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, 8, res.TrainExamples)
}
