package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// spmFixtures is where the committed SentencePiece cases live: NAME/ holds
// a .model, tokenizer_config.json and expected.json (HF tokenizers' output
// on the hard strings for the tokenizer.json spm_to_tokenizer_json.js
// converts the same files to; written by gen_hf_parity.js small).
var spmFixtures = filepath.Join("testdata", "spm")

// TestSentencePieceFixtures converts each committed .model with
// LoadSentencePieceDir and checks ids, tokens, offsets and decoded text
// of the hard strings against HF tokenizers.
func TestSentencePieceFixtures(t *testing.T) {
	dirs, err := os.ReadDir(spmFixtures)
	require.NoError(t, err)
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join(spmFixtures, d.Name())
			tok, err := LoadSentencePieceDir(dir)
			require.NoError(t, err)
			raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			require.NoError(t, err)
			var exp expectedFile
			require.NoError(t, json.Unmarshal(raw, &exp))
			checkCases(t, tok, exp)
		})
	}
	require.Equal(t, 5, n, "cases under %s", spmFixtures)
}

// TestWriteSPMFixtures writes the .model and tokenizer_config.json files
// of testdata/spm (with IA3_WRITE_SPM_FIXTURES=1): SentencePiece models
// built from vocabularies already under testdata/hf, so that nothing
// third-party is committed: precompiled_nmt_nfkc's Unigram vocabulary and
// real nmt_nfkc charsmap (trimmed) in DeBERTa-v2, ALBERT and T5 layouts,
// and llama2's trimmed BPE vocabulary as a byte-fallback BPE model scored
// by merge rank (as SentencePiece scores BPE pieces), in Llama's legacy
// and non-legacy layouts. gen_hf_parity.js small then writes
// expected.json.
func TestWriteSPMFixtures(t *testing.T) {
	if os.Getenv("IA3_WRITE_SPM_FIXTURES") == "" {
		t.Skip("IA3_WRITE_SPM_FIXTURES unset")
	}
	var uni struct {
		Normalizer struct {
			PrecompiledCharsmap string `json:"precompiled_charsmap"`
		} `json:"normalizer"`
		Model struct {
			Vocab [][2]json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "hf", "precompiled_nmt_nfkc", "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &uni))
	charsmap, err := base64.StdEncoding.DecodeString(uni.Normalizer.PrecompiledCharsmap)
	require.NoError(t, err)
	var words []SentencePiece // the normal pieces
	for _, e := range uni.Model.Vocab[3:] {
		var p string
		var s float64
		require.NoError(t, json.Unmarshal(e[0], &p))
		require.NoError(t, json.Unmarshal(e[1], &s))
		require.Equal(t, s, float64(float32(s)), "score %v of %q is not a float32", s, p)
		words = append(words, SentencePiece{p, float32(s), PieceNormal})
	}
	nfkc := pb{}.str(1, "nmt_nfkc").bytes(2, charsmap)
	unigram := func(specials []SentencePiece, unkID int, extra ...SentencePiece) []byte {
		m := pb{}
		for _, p := range slices.Concat(specials, words, extra) {
			m = m.bytes(1, pbPiece(p.Piece, p.Score, p.Type))
		}
		return m.bytes(2, pb{}.varint(3, SPMUnigram).varint(40, uint64(unkID))).bytes(3, nfkc)
	}
	ctrl := func(s string) SentencePiece { return SentencePiece{s, 0, PieceControl} }
	unk := func(s string) SentencePiece { return SentencePiece{s, 0, PieceUnknown} }

	// llama2's trimmed vocabulary, renumbered in id order, each merged
	// piece scored minus the rank of the first merge making it.
	var bpe struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
		} `json:"model"`
	}
	raw, err = os.ReadFile(filepath.Join("testdata", "hf", "llama2", "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &bpe))
	rank := map[string]int{}
	for i, m := range bpe.Model.Merges {
		l, r, ok := strings.Cut(m, " ")
		require.True(t, ok, m)
		if _, seen := rank[l+r]; !seen {
			rank[l+r] = i
		}
	}
	tokens := make([]string, 0, len(bpe.Model.Vocab))
	for tok := range bpe.Model.Vocab {
		tokens = append(tokens, tok)
	}
	slices.SortFunc(tokens, func(a, b string) int { return bpe.Model.Vocab[a] - bpe.Model.Vocab[b] })
	llama := pb{}
	for i, tok := range tokens {
		p := SentencePiece{tok, 0, PieceNormal}
		r, merged := rank[tok]
		switch {
		case i == 0:
			p.Type = PieceUnknown
		case i < 3:
			p.Type = PieceControl
		case len(tok) == 6 && strings.HasPrefix(tok, "<0x") && strings.HasSuffix(tok, ">"):
			p.Type = PieceByte
		case merged:
			p.Score = float32(-r)
		default:
			p.Score = float32(-1e4 - i) // single characters, after every merge
		}
		llama = llama.bytes(1, pbPiece(p.Piece, p.Score, p.Type))
	}
	llama = llama.bytes(2, pb{}.varint(3, SPMBPE).varint(35, 1)).
		bytes(3, pb{}.str(1, "identity").varint(4, 0))
	require.Less(t, float64(len(tokens)), float64(math.MaxInt32))

	cases := map[string]struct {
		file   string
		model  []byte
		config string
	}{
		"deberta_v2": {"spm.model", unigram([]SentencePiece{ctrl("[PAD]"), ctrl("[CLS]"), ctrl("[SEP]"), unk("[UNK]")}, 3,
			SentencePiece{"<url>", 0, PieceUserDefined}),
			`{"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": true, "split_by_punct": true}`},
		"albert": {"spiece.model", unigram([]SentencePiece{ctrl("<pad>"), unk("<unk>"), ctrl("[CLS]"), ctrl("[SEP]"), ctrl("[MASK]")}, 1),
			`{"tokenizer_class": "AlbertTokenizer"}`},
		"t5": {"spiece.model", unigram([]SentencePiece{ctrl("<pad>"), ctrl("</s>"), unk("<unk>")}, 2),
			`{"tokenizer_class": "T5Tokenizer", "extra_ids": 5, "legacy": false}`},
		"llama_legacy": {"tokenizer.model", llama, `{"tokenizer_class": "LlamaTokenizer", "legacy": true}`},
		"llama": {"tokenizer.model", llama, `{"tokenizer_class": "LlamaTokenizerFast", "legacy": false, "add_eos_token": true,
			"added_tokens_decoder": {"0": {"content": "<unk>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}}}`},
	}
	for name, c := range cases {
		dir := filepath.Join(spmFixtures, name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, c.file), c.model, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(c.config+"\n"), 0o644))
	}
}
