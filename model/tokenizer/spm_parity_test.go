package tokenizer

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
