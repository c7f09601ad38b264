package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsLayout is spm_to_tokenizer_json.js's name for each layout, in the
// form that follows transformers' current converters.
var jsLayout = map[string]string{LayoutDebertaV2: "deberta-v2", LayoutAlbert: "albert-hf", LayoutT5: "t5-hf", LayoutLlama: "llama"}

// TestSentencePieceHFParity converts real SentencePiece models with
// LoadSentencePieceDir and checks every encoding against HF tokenizers
// (its Rust library through the Node binding) running a reference
// tokenizer.json: the model's real one where the case has it
// (NAME/reference.json, e.g. Mistral's tokenizer.json from the Hub), else
// the one testdata/hf/spm_to_tokenizer_json.js writes from the same .model
// and tokenizer_config.json, following transformers' converters
// independently of the Go code. IA3_SPM_MODELS names a directory of case
// directories NAME/ holding a .model, optionally tokenizer_config.json,
// special_tokens_map.json and config.json (see docs/tokenizers.md); the
// models are third-party files, not committed. Needs IA3_HF_TOKENIZERS and
// node.
func TestSentencePieceHFParity(t *testing.T) {
	root, modules := os.Getenv("IA3_SPM_MODELS"), os.Getenv("IA3_HF_TOKENIZERS")
	if root == "" || modules == "" {
		t.Skip("IA3_SPM_MODELS or IA3_HF_TOKENIZERS unset: real SentencePiece models not checked")
	}
	dirs, err := os.ReadDir(root)
	require.NoError(t, err)
	refs := map[string]string{} // case → reference tokenizer.json
	var files []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		ref := filepath.Join(dir, "reference.json")
		if _, err := os.Stat(ref); err != nil {
			layout, model := caseLayout(t, dir)
			out := filepath.Join(t.TempDir(), d.Name())
			args := []string{filepath.Join("testdata", "hf", "spm_to_tokenizer_json.js"), model, jsLayout[layout], out}
			if cfg := filepath.Join(dir, "tokenizer_config.json"); fileExists(cfg) {
				args = append(args, cfg)
			}
			_, err := exec.Command("node", args...).Output()
			require.NoError(t, err, "spm_to_tokenizer_json.js %v: %s", args, exitStderr(err))
			ref = filepath.Join(out, "tokenizer.json")
		}
		refs[d.Name()] = ref
		files = append(files, ref)
	}
	require.NotEmpty(t, files, "no case directories under %s", root)
	out, err := exec.Command("node", append([]string{filepath.Join("testdata", "hf", "gen_hf_parity.js"), modules, "files"}, files...)...).Output()
	require.NoError(t, err, "gen_hf_parity.js: %s", exitStderr(err))
	var exp map[string]struct {
		expectedFile
	}
	require.NoError(t, json.Unmarshal(out, &exp))
	for name, ref := range refs {
		t.Run(name, func(t *testing.T) {
			tok, err := LoadSentencePieceDir(filepath.Join(root, name))
			require.NoError(t, err)
			checkCases(t, tok, exp[ref].expectedFile)
		})
	}
}

// caseLayout returns a case directory's layout and model file, as
// LoadSentencePieceDir chooses them.
func caseLayout(t *testing.T, dir string) (layout, model string) {
	t.Helper()
	var tc struct {
		Class string `json:"tokenizer_class"`
	}
	var cfg struct {
		ModelType string `json:"model_type"`
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		require.NoError(t, json.Unmarshal(raw, &tc))
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		require.NoError(t, json.Unmarshal(raw, &cfg))
	}
	layout, err := SentencePieceLayout(tc.Class, cfg.ModelType)
	require.NoError(t, err)
	for _, n := range append([]string{spmFileByLayout[layout]}, spmNames...) {
		if p := filepath.Join(dir, n); fileExists(p) {
			return layout, p
		}
	}
	t.Fatalf("%s: no .model file", dir)
	return "", ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// realSPM is what the reader must find in the real models the measurement
// note names, by sha256.
var realSPM = map[string]struct {
	pieces, modelType, unk, bos, eos, pad int
	byteFallback                          bool
	norm                                  string
	charsmap                              int
	types                                 map[int]int // piece type → count
}{
	// transformers' tests/fixtures/spiece.model (ALBERT's)
	"fefb02b667a6c5c2fe27602d28e5fb3428f66ab89c7d6f388e7c8d44a02d0336": {30000, SPMUnigram, 1, -1, -1, 0, false, "nmt_nfkc", 237539, map[int]int{1: 29987, 2: 1, 3: 4, 4: 8}},
	// tests/fixtures/test_sentencepiece.model
	"8dfd1eae4522281b1b839eab877a791befec7a1663a41c814c77d9c89c748f2d": {1000, SPMUnigram, 0, 1, 2, -1, false, "nmt_nfkc", 237539, map[int]int{1: 997, 2: 1, 3: 2}},
	// tests/fixtures/test_sentencepiece_no_bos.model
	"6f3af97c2e7bc51d781e7440aa33deee7f482eac819d23fd24af80e7b4ce2646": {1000, SPMUnigram, 2, -1, 1, -1, false, "nmt_nfkc", 237539, map[int]int{1: 998, 2: 1, 3: 1}},
	// tests/fixtures/test_sentencepiece_bpe.model
	"c4de78f5d11ee09141165d31da7dad97e809dd6ee7b52a0cbc6d76a973028286": {1000, SPMBPE, 0, 1, 2, -1, false, "nmt_nfkc", 237539, map[int]int{1: 997, 2: 1, 3: 2}},
	// Mistral-7B-Instruct-v0.3's tokenizer.model: 770 control pieces, 256 bytes
	"37f00374dea48658ee8f5d0f21895b9bc55cb0103939607c8185bfd1c6ca1f89": {32768, SPMBPE, 0, 1, 2, -1, true, "identity", 0, map[int]int{1: 31741, 2: 1, 3: 770, 6: 256}},
}

// TestReadSentencePieceReal reads every .model under IA3_SPM_MODELS and,
// for the real models the measurement note names, checks the header
// fields and piece types against what SentencePiece wrote.
func TestReadSentencePieceReal(t *testing.T) {
	root := os.Getenv("IA3_SPM_MODELS")
	if root == "" {
		t.Skip("IA3_SPM_MODELS unset: real SentencePiece models not read")
	}
	known := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".model") {
			return err
		}
		t.Run(p, func(t *testing.T) {
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			m, err := ParseSentencePiece(p, raw)
			require.NoError(t, err)
			sum := sha256.Sum256(raw)
			want, ok := realSPM[hex.EncodeToString(sum[:])]
			if !ok {
				return
			}
			known++
			types := map[int]int{}
			for _, pc := range m.Pieces {
				types[pc.Type]++
			}
			assert.Equal(t, want.pieces, len(m.Pieces))
			assert.Equal(t, want.modelType, m.ModelType)
			assert.Equal(t, [4]int{want.unk, want.bos, want.eos, want.pad}, [4]int{m.UnkID, m.BOSID, m.EOSID, m.PadID})
			assert.Equal(t, want.byteFallback, m.ByteFallback)
			assert.Equal(t, want.norm, m.Normalizer.Name)
			assert.Len(t, m.Normalizer.PrecompiledCharsmap, want.charsmap)
			assert.Equal(t, want.types, types)
		})
		return nil
	})
	require.NoError(t, err)
	t.Logf("%d of the known real models found", known)
}
