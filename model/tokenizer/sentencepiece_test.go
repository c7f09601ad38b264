package tokenizer

import (
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pb builds protobuf wire-format messages for the tests.
type pb []byte

func (p pb) key(num, typ int) pb { return binary.AppendUvarint(p, uint64(num)<<3|uint64(typ)) }
func (p pb) varint(num int, v uint64) pb {
	return binary.AppendUvarint(p.key(num, wireVarint), v)
}
func (p pb) bytes(num int, b []byte) pb {
	return append(binary.AppendUvarint(p.key(num, wireBytes), uint64(len(b))), b...)
}
func (p pb) str(num int, s string) pb { return p.bytes(num, []byte(s)) }
func (p pb) fixed32(num int, v uint32) pb {
	return binary.LittleEndian.AppendUint32(p.key(num, wireFixed32), v)
}
func (p pb) fixed64(num int, v uint64) pb {
	return binary.LittleEndian.AppendUint64(p.key(num, wireFixed64), v)
}

// pbPiece encodes a ModelProto.SentencePiece (type 0: left out, NORMAL).
func pbPiece(s string, score float32, typ int) []byte {
	p := pb{}.str(1, s).fixed32(2, math.Float32bits(score))
	if typ != 0 {
		p = p.varint(3, uint64(typ))
	}
	return p
}

// testPieces is a small DeBERTa-like vocabulary.
var testPieces = []SentencePiece{
	{"[PAD]", 0, PieceControl}, {"[CLS]", 0, PieceControl}, {"[SEP]", 0, PieceControl}, {"[UNK]", 0, PieceUnknown},
	{"▁hello", -1, PieceNormal}, {"▁world", -2, PieceNormal}, {"▁", -3, PieceNormal}, {"<mask>", 0, PieceUserDefined},
	{"h", -4, PieceNormal}, {"e", -4, PieceNormal}, {"l", -4, PieceNormal}, {"o", -4, PieceNormal}, {"w", -4, PieceNormal},
	{"r", -4, PieceNormal}, {"d", -4, PieceNormal}, {",", -5, PieceNormal}, {"!", -5, PieceNormal}, {"▁1,", -6, PieceNormal},
	{"<0x41>", 0, PieceByte},
}

// bpePieces is a small Llama-like BPE vocabulary, closed under its
// merges: each piece's score ranks the merge that makes it.
var bpePieces = []SentencePiece{
	{"<unk>", 0, PieceUnknown}, {"<s>", 0, PieceControl}, {"</s>", 0, PieceControl}, {"<0x41>", 0, PieceByte},
	{"he", -1, PieceNormal}, {"ll", -2, PieceNormal}, {"hell", -3, PieceNormal}, {"hello", -4, PieceNormal},
	{"▁hello", -5, PieceNormal}, {"▁w", -6, PieceNormal}, {"or", -7, PieceNormal}, {"▁wor", -8, PieceNormal},
	{"ld", -9, PieceNormal}, {"▁world", -10, PieceNormal}, {"▁", -20, PieceNormal}, {"h", -20, PieceNormal},
	{"e", -20, PieceNormal}, {"l", -20, PieceNormal}, {"o", -20, PieceNormal}, {"w", -20, PieceNormal},
	{"r", -20, PieceNormal}, {"d", -20, PieceNormal},
}

// testBPEModel encodes bpePieces as a BPE model with byte fallback.
func testBPEModel() []byte {
	m := pb{}
	for _, p := range bpePieces {
		m = m.bytes(1, pbPiece(p.Piece, p.Score, p.Type))
	}
	return m.bytes(2, pb{}.varint(3, SPMBPE).varint(35, 1))
}

// testModel encodes testPieces as a Unigram model with unk_id 3, bos and
// eos 1 and 2, no pad, and unknown fields of every wire type.
func testModel(modelType int) []byte {
	m := pb{}
	for i, p := range testPieces {
		m = m.bytes(1, pbPiece(p.Piece, p.Score, p.Type))
		if i == 2 {
			m = m.varint(99, 7).fixed64(98, 1).fixed32(97, 2).str(96, "skipped") // unknown fields
		}
	}
	trainer := pb{}.str(1, "corpus.txt").varint(3, uint64(modelType)).varint(4, uint64(len(testPieces))).
		varint(40, 3).varint(41, 1).varint(42, 2).varint(43, math.MaxUint64). // pad_id -1
		str(45, "[UNK]").str(46, "[CLS]").str(47, "[SEP]").str(48, "[PAD]").varint(35, 1)
	norm := pb{}.str(1, "identity").varint(3, 0).varint(4, 1)
	return m.bytes(2, trainer).bytes(3, norm).bytes(4, pb{}.bytes(1, pb{}.str(1, "in").str(2, "out")))
}

func TestParseSentencePiece(t *testing.T) {
	m, err := ParseSentencePiece("test.model", testModel(SPMUnigram))
	require.NoError(t, err)
	assert.Equal(t, &SentencePieceModel{
		Pieces: testPieces, ModelType: SPMUnigram, VocabSize: len(testPieces), ByteFallback: true,
		UnkID: 3, BOSID: 1, EOSID: 2, PadID: -1, UnkPiece: "[UNK]", BOSPiece: "[CLS]", EOSPiece: "[SEP]", PadPiece: "[PAD]",
		Normalizer: SentencePieceNormalizer{Name: "identity", AddDummyPrefix: false, RemoveExtraWhitespaces: true, EscapeWhitespaces: true},
	}, m)

	// Absent fields take the proto's defaults.
	m, err = ParseSentencePiece("min.model", pb{}.bytes(1, pb{}.str(1, "<unk>").varint(3, PieceUnknown)))
	require.NoError(t, err)
	assert.Equal(t, &SentencePieceModel{
		Pieces: []SentencePiece{{"<unk>", 0, PieceUnknown}}, ModelType: SPMUnigram, VocabSize: 8000,
		UnkID: 0, BOSID: 1, EOSID: 2, PadID: -1, UnkPiece: "<unk>", BOSPiece: "<s>", EOSPiece: "</s>", PadPiece: "<pad>",
		Normalizer: SentencePieceNormalizer{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true},
	}, m)
}

// TestParseSentencePieceCorrupt checks that each kind of damage gives an
// error naming the file, the field and, for wire errors, the offset.
func TestParseSentencePieceCorrupt(t *testing.T) {
	good := testModel(SPMUnigram)
	onePiece := func(p []byte) []byte { return pb{}.bytes(1, p) }
	withTrainer := func(tr pb) []byte { return pb(onePiece(pbPiece("<unk>", 0, PieceUnknown))).bytes(2, tr) }
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no pieces"},
		{"truncated", good[:len(good)/2], "runs past the end"},
		{"truncated key", []byte{0x80}, "ModelProto: truncated or overlong field key at byte 0"},
		{"truncated varint", pb{}.key(2, wireVarint), "field 2 at byte 0: truncated or overlong varint"},
		{"truncated length", pb{}.key(1, wireBytes), "field 1 at byte 0: truncated length"},
		{"truncated fixed32", pb{}.key(9, wireFixed32).key(1, 0), "4-byte value truncated"},
		{"huge length", binary.AppendUvarint(pb{}.key(1, wireBytes), 1<<62), "length 4611686018427387904 runs past the end"},
		{"overlong varint", append(pb{}.key(3, wireVarint), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "overlong varint"},
		{"group", pb{}.key(5, 3), "wire type 3 is not supported"},
		{"field 0", pb{}.key(0, wireVarint).varint(1, 1), "invalid field number 0"},
		{"pieces as varint", pb{}.varint(1, 5), "pieces[0] (at byte 0): wire type 0 (varint), want 2 (length-delimited)"},
		{"score as varint", onePiece(pb{}.str(1, "a").varint(2, 3)), "pieces[0].score (at byte 5): wire type 0 (varint), want 5 (32-bit)"},
		{"piece as fixed32", onePiece(pb{}.fixed32(1, 3)), "pieces[0].piece (at byte 2): wire type 5 (32-bit), want 2"},
		{"bad piece type", onePiece(pb{}.str(1, "a").varint(3, 9)), "pieces[0].type 9 is not a piece type"},
		{"empty piece", onePiece(pb{}.fixed32(2, 0)), "pieces[0] (at byte 2): empty piece"},
		{"invalid UTF-8", onePiece(pb{}.str(1, "\xff\xfe")), "pieces[0].piece (at byte 2): not valid UTF-8"},
		{"trainer as varint", pb(onePiece(pbPiece("a", 0, 0))).varint(2, 1), "trainer_spec (at byte 10): wire type 0"},
		{"unk_id past pieces", withTrainer(pb{}.varint(40, 5)), "trainer_spec.unk_id 5 is outside the 1 pieces"},
		{"no unk", withTrainer(pb{}.varint(40, math.MaxUint64).varint(41, math.MaxUint64).varint(42, math.MaxUint64)), "unk_id is -1"},
		{"model_type", withTrainer(pb{}.varint(3, 7)), "trainer_spec.model_type 7 is not one of"},
		{"unk_piece as varint", withTrainer(pb{}.varint(45, 1)), "trainer_spec.unk_piece (at byte"},
		{"charsmap as varint", pb(onePiece(pbPiece("a", 0, 0))).bytes(3, pb{}.varint(2, 1)), "normalizer_spec.precompiled_charsmap (at byte 12): wire type 0"},
		{"Git LFS pointer", []byte("version https://git-lfs.github.com/spec/v1\noid sha256:37f0\nsize 587404\n"), "a Git LFS pointer"},
		{"HTML page", []byte("<!doctype html><html lang=\"en\">"), "an HTML page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseSentencePiece("bad.model", c.data)
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), "sentencepiece: bad.model: ")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestReadSentencePiece(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "spm.model")
	require.NoError(t, os.WriteFile(p, testModel(SPMBPE), 0o644))
	m, err := ReadSentencePiece(p)
	require.NoError(t, err)
	assert.Equal(t, SPMBPE, m.ModelType)
	assert.Len(t, m.Pieces, len(testPieces))
	_, err = ReadSentencePiece(filepath.Join(dir, "missing.model"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// convertTest converts testModel(modelType) in layout with config and
// loads the result.
func convertTest(t *testing.T, modelType int, layout, config string) (*Tokenizer, map[string]any) {
	t.Helper()
	data := testModel(modelType)
	if modelType == SPMBPE {
		data = testBPEModel()
	}
	m, err := ParseSentencePiece("test.model", data)
	require.NoError(t, err)
	raw, err := ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: layout, TokenizerConfig: []byte(config)})
	require.NoError(t, err)
	var j map[string]any
	require.NoError(t, json.Unmarshal(raw, &j))
	tok, err := FromJSON("test.model", raw)
	require.NoError(t, err)
	return tok, j
}

// encodeTokens returns the tokens of text with special tokens.
func encodeTokens(t *testing.T, tok *Tokenizer, text string) []string {
	t.Helper()
	enc, err := tok.Encode(text)
	require.NoError(t, err)
	return enc.Tokens
}

func TestConvertSentencePiece(t *testing.T) {
	t.Run("deberta-v2", func(t *testing.T) {
		tok, _ := convertTest(t, SPMUnigram, LayoutDebertaV2, `{}`)
		assert.Equal(t, []string{"[CLS]", "▁", "H", "e", "l", "l", "o", "▁world", "[SEP]"}, encodeTokens(t, tok, "  Hello   world "),
			"stripped, runs of spaces as one, H unknown (a Unigram unknown is the text it covers)")
		mask, ok := tok.TokenToID("[MASK]")
		assert.True(t, ok)
		assert.Equal(t, len(testPieces), mask, "[MASK] is not a piece: it takes the next id")
		tok, _ = convertTest(t, SPMUnigram, LayoutDebertaV2, `{"do_lower_case": true, "split_by_punct": true}`)
		assert.Equal(t, []string{"[CLS]", "▁hello", "▁", ",", "▁world", "▁", "!", "[SEP]"}, encodeTokens(t, tok, "Hello, World!"))
		enc, err := tok.Encode("hello")
		require.NoError(t, err)
		assert.Equal(t, []int{1, 4, 2}, enc.IDs)
	})
	t.Run("albert", func(t *testing.T) {
		tok, j := convertTest(t, SPMUnigram, LayoutAlbert, `{}`)
		assert.Equal(t, []string{"[CLS]", "▁hello", "▁world", "[SEP]"}, encodeTokens(t, tok, "HÉLLO  world"))
		assert.Equal(t, []string{"[CLS]", "▁hello", " [MASK]", "[SEP]"}, encodeTokens(t, tok, "hello [MASK]"), "ALBERT's [MASK] is lstrip")
		tok, _ = convertTest(t, SPMUnigram, LayoutAlbert, `{"added_tokens_decoder": {"4": {"content": "[MASK]", "lstrip": false}}}`)
		assert.Equal(t, []string{"[CLS]", "▁hello", "▁", "[MASK]", "[SEP]"}, encodeTokens(t, tok, "hello [MASK]"), "unless added_tokens_decoder says otherwise")
		vocab := j["model"].(map[string]any)["vocab"].([]any)
		assert.Equal(t, []any{"▁1,", -106.0}, vocab[17], "a piece ending in digit + comma scores 100 lower")
		mask := j["added_tokens"].([]any)
		assert.Contains(t, mask, map[string]any{"id": 7.0, "content": "<mask>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": false}, "user-defined pieces are added, not special")
	})
	t.Run("t5", func(t *testing.T) {
		tok, _ := convertTest(t, SPMUnigram, LayoutT5, `{"extra_ids": 3, "unk_token": "[UNK]", "pad_token": "[PAD]"}`)
		assert.Equal(t, len(testPieces)+3+1, tok.VocabSize(), "3 extra ids and </s>")
		id, ok := tok.TokenToID("<extra_id_0>")
		assert.True(t, ok)
		assert.Equal(t, len(testPieces)+2, id, "extra ids count down")
		assert.Equal(t, []string{"▁hello", "</s>"}, encodeTokens(t, tok, "hello "), "T5's template appends </s>, an added token here")
		// With no eos token at all, </s> has no id.
		m, err := ParseSentencePiece("test.model", testModel(SPMUnigram))
		require.NoError(t, err)
		_, err = ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: LayoutT5, TokenizerConfig: []byte(`{"eos_token": null}`)})
		assert.ErrorContains(t, err, `the t5 template's token "</s>" is neither a piece nor an added token`)
	})
	t.Run("llama", func(t *testing.T) {
		tok, j := convertTest(t, SPMBPE, LayoutLlama, `{"add_eos_token": true}`)
		assert.Equal(t, []string{"<s>", "▁hello", "▁world", "</s>"}, encodeTokens(t, tok, "hello world"))
		assert.Equal(t, []string{"<s>", "▁", "<0x41>", "▁", "<unk>", "</s>"}, encodeTokens(t, tok, "A B"), "byte fallback, no byte piece: unknown")
		model := j["model"].(map[string]any)
		assert.Equal(t, "<unk>", model["unk_token"])
		assert.Equal(t, true, model["byte_fallback"])
		assert.Equal(t, []any{[]any{"h", "e"}, []any{"l", "l"}, []any{"he", "ll"}}, model["merges"].([]any)[:3], "by score")
		dec, err := tok.Decode([]int{1, 8, 13, 2}, true)
		require.NoError(t, err)
		assert.Equal(t, "hello world", dec)
		_, j = convertTest(t, SPMBPE, LayoutLlama, `{"legacy": false}`)
		assert.Nil(t, j["normalizer"])
		assert.Equal(t, map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}, j["pre_tokenizer"])
	})
	t.Run("errors", func(t *testing.T) {
		m, err := ParseSentencePiece("test.model", testModel(SPMWord))
		require.NoError(t, err)
		_, err = ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: LayoutT5})
		assert.ErrorContains(t, err, "tokenizer: test.model: trainer_spec.model_type 3 (word) has no tokenizers model")
		m, err = ParseSentencePiece("test.model", testModel(SPMUnigram))
		require.NoError(t, err)
		_, err = ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: "xlnet"})
		assert.ErrorContains(t, err, `unknown SentencePiece layout "xlnet"`)
		_, err = ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: LayoutAlbert, TokenizerConfig: []byte(`{"do_lower_case": "yes"}`)})
		assert.ErrorContains(t, err, `do_lower_case: want true or false, got "yes"`)
		_, err = ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: LayoutAlbert, TokenizerConfig: []byte(`{"mask_token": 3}`)})
		assert.ErrorContains(t, err, `tokenizer_config.json: mask_token: want a string or an object with "content", got 3`)
		_, err = ConvertSentencePiece("test.model", m, SentencePieceOptions{Layout: LayoutAlbert, TokenizerConfig: []byte(`{"added_tokens_decoder": {"x": {"content": "a"}}}`)})
		assert.ErrorContains(t, err, `added_tokens_decoder: key "x" is not an id`)
	})
}

func TestSentencePieceLayout(t *testing.T) {
	for _, c := range []struct{ class, modelType, want string }{
		{"DebertaV2Tokenizer", "", LayoutDebertaV2}, {"DebertaV2TokenizerFast", "bert", LayoutDebertaV2},
		{"T5TokenizerFast", "", LayoutT5}, {"MT5Tokenizer", "", LayoutT5}, {"AlbertTokenizer", "", LayoutAlbert},
		{"LlamaTokenizerFast", "", LayoutLlama}, {"", "mistral", LayoutLlama}, {"", "umt5", LayoutT5}, {"", "deberta-v2", LayoutDebertaV2},
	} {
		got, err := SentencePieceLayout(c.class, c.modelType)
		require.NoError(t, err, "%s %s", c.class, c.modelType)
		assert.Equal(t, c.want, got, "%s %s", c.class, c.modelType)
	}
	_, err := SentencePieceLayout("XLNetTokenizer", "xlnet")
	assert.ErrorContains(t, err, `tokenizer_class "XLNetTokenizer" has no SentencePiece conversion`)
	_, err = SentencePieceLayout("", "gpt2")
	assert.ErrorContains(t, err, `model_type "gpt2" has no SentencePiece conversion`)
}

// TestLoadDirSentencePiece checks the directory lookup: a dir without
// tokenizer.json uses its .model as its class says.
func TestLoadDirSentencePiece(t *testing.T) {
	write := func(t *testing.T, files map[string][]byte) string {
		dir := t.TempDir()
		for name, b := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
		return dir
	}
	model := testModel(SPMUnigram)
	t.Run("deberta", func(t *testing.T) {
		dir := write(t, map[string][]byte{"spm.model": model, "config.json": []byte(`{"model_type": "deberta-v2"}`),
			"tokenizer_config.json": []byte(`{"do_lower_case": true, "pad_token": "[PAD]", "unk_token": "[UNK]"}`)})
		tok, err := LoadDir(dir)
		require.NoError(t, err)
		enc, err := tok.Encode("Hello WORLD")
		require.NoError(t, err)
		assert.Equal(t, []int{1, 4, 5, 2}, enc.IDs)
		pad, ok := tok.PAD()
		assert.True(t, ok)
		assert.Equal(t, SpecialToken{"[PAD]", 0}, pad)
		unk, ok := tok.UNK()
		assert.True(t, ok)
		assert.Equal(t, SpecialToken{"[UNK]", 3}, unk)
	})
	t.Run("class over model_type, any .model name", func(t *testing.T) {
		dir := write(t, map[string][]byte{"spiece.model": model, "config.json": []byte(`{"model_type": "llama"}`),
			"tokenizer_config.json": []byte(`{"tokenizer_class": "DebertaV2TokenizerFast"}`)})
		tok, err := LoadDir(dir)
		require.NoError(t, err)
		assert.Equal(t, []string{"[CLS]", "▁world", "[SEP]"}, encodeTokens(t, tok, "world"))
	})
	t.Run("special_tokens_map", func(t *testing.T) {
		dir := write(t, map[string][]byte{"spm.model": model, "tokenizer_config.json": []byte(`{"tokenizer_class": "DebertaV2Tokenizer"}`),
			"special_tokens_map.json": []byte(`{"mask_token": {"content": "[MASK]", "lstrip": true, "normalized": false}}`)})
		tok, err := LoadDir(dir)
		require.NoError(t, err)
		assert.Equal(t, []string{"[CLS]", "▁hello", " [MASK]", "[SEP]"}, encodeTokens(t, tok, "hello [MASK]"), "lstrip takes the space")
	})
	t.Run("errors", func(t *testing.T) {
		_, err := LoadDir(write(t, map[string][]byte{"config.json": []byte(`{"model_type": "t5"}`)}))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.ErrorIs(t, err, ErrNoTokenizer)
		dir := write(t, map[string][]byte{"spiece.model": model, "tokenizer_config.json": []byte(`{"tokenizer_class": "XLNetTokenizer"}`)})
		_, err = LoadDir(dir)
		assert.ErrorContains(t, err, filepath.Join(dir, "tokenizer_config.json")+`: tokenizer_class "XLNetTokenizer" has no SentencePiece conversion`)
		dir = write(t, map[string][]byte{"spiece.model": model})
		_, err = LoadDir(dir)
		assert.ErrorContains(t, err, "neither tokenizer_config.json's tokenizer_class nor config.json's model_type")
		dir = write(t, map[string][]byte{"tokenizer.model": model[:40], "config.json": []byte(`{"model_type": "llama"}`)})
		_, err = LoadDir(dir)
		assert.ErrorContains(t, err, "sentencepiece: "+filepath.Join(dir, "tokenizer.model")+": ")
	})
}

// FuzzReadSentencePiece checks that no input makes the reader, or the
// conversion of what it accepts, panic; every failure is an error.
func FuzzReadSentencePiece(f *testing.F) {
	f.Add(testModel(SPMUnigram))
	f.Add(testModel(SPMBPE))
	f.Add([]byte{})
	f.Add([]byte("version https://git-lfs.github.com/spec/v1\n"))
	f.Add([]byte(pb{}.bytes(1, pbPiece("<unk>", 0, PieceUnknown)).bytes(2, pb{}.varint(40, math.MaxUint64))))
	f.Add(binary.AppendUvarint(pb{}.key(1, wireBytes), 1<<62))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseSentencePiece("fuzz.model", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sentencepiece: fuzz.model: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, layout := range []string{LayoutDebertaV2, LayoutT5, LayoutAlbert, LayoutLlama} {
			raw, err := ConvertSentencePiece("fuzz.model", m, SentencePieceOptions{Layout: layout})
			if err != nil {
				continue
			}
			tok, err := FromJSON("fuzz.model", raw)
			if err != nil {
				continue
			}
			_, _ = tok.Encode("Hello, world! 1,2")
		}
	})
}
