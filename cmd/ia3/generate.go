package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ia3/ia3/backend"
	"github.com/ia3/ia3/model"
	"github.com/ia3/ia3/model/tokenizer"
)

// generateFlags are the flags of `ia3 generate`.
type generateFlags struct {
	model, device     string
	quantize          string
	prompts           []string
	adapters          []string
	maxNew, topK      int
	temperature, topP float64
	seed              uint64
	asJSON            bool
	chat              chatFlags
}

// newGenerateCmd builds `ia3 generate`.
func newGenerateCmd(a *app) *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate text from a prompt, streaming tokens to stdout",
		Long: `Continue a prompt with a causal language model (GPT-2, Llama, Mistral, Qwen2)
or answer it with T5, optionally through adapters, printing the prompt and
then the new text as each token is chosen. The tokenizer is read from tokenizer.json in the model
directory, else from its SentencePiece model (spm.model, spiece.model, tokenizer.model).

Decoding is greedy unless --temperature is positive; then tokens are sampled
from softmax(logits / temperature), keeping the --top-k most likely tokens
and the smallest set reaching probability --top-p. --seed makes sampling
repeatable. Generation stops at the model's end-of-sequence token or after
--max-new-tokens.

--chat FILE and --message ROLE=CONTENT give a conversation instead of a
prompt: it is rendered with the chat template of tokenizer_config.json and
the generation prompt, as transformers' apply_chat_template does, and the
assistant's reply is printed. Generation also stops at the template's
eos_token.

Several --prompt flags run as one batch (left-padded, as transformers'
generate pads): each row decodes as it would alone, and the results are
printed one per line when all are done.`,
		Example: `  ia3 generate --model ./gpt2 --prompt "The capital of France is"
  ia3 generate --model ./llama --adapter my-adapter --prompt "Q: 2+2?" --temperature 0.7 --top-p 0.9 --seed 1
  ia3 generate --model ./t5 --prompt "translate English to German: Hello" --json
  ia3 generate --model ./gpt2 --prompt "Once upon a time" --prompt "In 1969" --max-new-tokens 20
  ia3 generate --model ./qwen2.5-instruct --message system="Be brief." --message user="What is IA3?"
  ia3 generate --model ./qwen2.5-instruct --chat conversation.json --max-new-tokens 200`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model"); err != nil {
				return err
			}
			if f.chat.set() == cmd.Flags().Changed("prompt") {
				return usagef("%s needs --prompt, or a conversation (--chat, --message), not both", cmd.CommandPath())
			}
			return runGenerate(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model directory (config.json, safetensors, tokenizer.json), a llama.cpp .gguf file, or Hub id org/name[@revision]")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "PEFT adapter directory or Hub id, DIR or DIR=NAME (repeatable; the first is active)")
	fl.StringArrayVar(&f.prompts, "prompt", nil, "text to continue (repeatable: the prompts run as one left-padded batch)")
	fl.IntVar(&f.maxNew, "max-new-tokens", 50, "most tokens to generate")
	fl.Float64Var(&f.temperature, "temperature", 0, "sampling temperature; 0 decodes greedily")
	fl.IntVar(&f.topK, "top-k", 0, "sample only among the K most likely tokens (0: all)")
	fl.Float64Var(&f.topP, "top-p", 0, "sample only among the most likely tokens reaching this probability (0: all)")
	fl.Uint64Var(&f.seed, "seed", 0, "sampling seed")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object per prompt (prompt, prompt_ids, ids, text) at the end instead of streaming")
	f.chat.add(fl)
	addDeviceFlag(cmd, &f.device)
	addQuantizeFlag(cmd, &f.quantize)
	addMemoryLimitFlag(cmd)
	return cmd
}

// runGenerate tokenizes the prompts, generates, and streams (one prompt)
// or prints (several, or --json) the text.
func runGenerate(cmd *cobra.Command, a *app, f *generateFlags) error {
	for _, v := range []struct {
		flag string
		x    float64
	}{{"--temperature", f.temperature}, {"--top-p", f.topP}} {
		// A well-formed flag with a non-finite value is a bad value, not a
		// malformed command line: exit 1, as the other refused inputs.
		if math.IsNaN(v.x) || math.IsInf(v.x, 0) {
			return fmt.Errorf("%s %g: want a finite number", v.flag, v.x)
		}
	}
	if f.maxNew <= 0 || f.temperature < 0 || f.topK < 0 || f.topP < 0 || f.topP > 1 {
		return usagef("--max-new-tokens must be positive, --temperature and --top-k not negative, --top-p in [0, 1]")
	}
	specs, err := parseAdapterSpecs(f.adapters)
	if err != nil {
		return err
	}
	q, err := quantizeFormat(f.quantize)
	if err != nil {
		return err
	}
	if err := a.resolveModelAndAdapters(cmd.Context(), &f.model, specs); err != nil {
		return err
	}
	tok, err := loadTokenizer(f.model)
	if err != nil {
		return err
	}
	var prompts [][]int32
	var chatEOS []int32
	if f.chat.set() {
		var text string
		var ids []int32
		if text, ids, chatEOS, err = chatPrompt(f.model, tok, &f.chat); err != nil {
			return err
		}
		f.prompts, prompts = []string{text}, [][]int32{ids}
	} else if prompts, err = encodePrompts(tok, f.prompts); err != nil {
		return err
	}
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	// The prompts' forward pass (the prefill) is the largest step.
	lim, err := memoryLimit(cmd)
	if err != nil {
		return err
	}
	l, err := loadChecked(cmd.Context(), f.device, f.model, specs, q, func(info backend.DeviceInfo, cfg *model.Config) error {
		return checkRunFits(info, cfg, runShape{Batch: len(prompts), Seq: longest, NewTokens: f.maxNew, MemoryLimit: lim,
			WeightBytes: storedWeightBytes(f.model), ProjBytesPerWeight: model.ProjBytesPerWeight(q)})
	})
	if err != nil {
		return err
	}
	defer l.close()
	eos, err := model.EOSTokenIDs(l.base.Config())
	if err != nil {
		return err
	}
	if t, ok := tok.EOS(); ok && len(eos) == 0 {
		eos = []int32{int32(t.ID)}
	}
	eos = addEOS(eos, chatEOS)
	// One prompt streams its text; several are printed when done.
	stream := len(prompts) == 1 && !f.asJSON
	rows := make([]*textStream, len(prompts))
	for i := range rows {
		rows[i] = &textStream{tok: tok, w: a.stdout, quiet: !stream}
	}
	if stream && !f.chat.set() {
		// A chat prints the reply only, not the rendered template.
		fmt.Fprint(a.stdout, f.prompts[0])
	}
	out, genErr := l.base.Generate(cmd.Context(), prompts, model.GenerateOptions{
		MaxNewTokens: f.maxNew, Temperature: f.temperature, TopK: f.topK, TopP: f.topP, Seed: f.seed, EOS: eos,
		OnToken: func(row int, id int32) error { return rows[row].add(id) },
	})
	if stream {
		fmt.Fprintln(a.stdout)
	}
	if genErr != nil || stream {
		return genErr
	}
	enc := json.NewEncoder(a.stdout)
	for i, st := range rows {
		text, err := st.text()
		if err != nil {
			return err
		}
		if f.asJSON {
			err = enc.Encode(map[string]any{"prompt": f.prompts[i], "prompt_ids": prompts[i], "ids": out[i], "text": text})
		} else {
			_, err = fmt.Fprintln(a.stdout, f.prompts[i]+text)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// encodePrompts tokenizes each prompt, refusing one that gives no token.
func encodePrompts(tok *tokenizer.Tokenizer, texts []string) ([][]int32, error) {
	out := make([][]int32, len(texts))
	for i, text := range texts {
		enc, err := tok.Encode(text)
		if err != nil {
			return nil, fmt.Errorf("tokenize prompt %q: %w", text, err)
		}
		if len(enc.IDs) == 0 {
			return nil, usagef("--prompt %q encodes to no tokens", text)
		}
		out[i] = make([]int32, len(enc.IDs))
		for j, id := range enc.IDs {
			out[i][j] = int32(id)
		}
	}
	return out, nil
}

// loadTokenizer loads dir's tokenizer (tokenizer.json, else its
// SentencePiece model), with a clear error when the model directory has
// none.
func loadTokenizer(dir string) (*tokenizer.Tokenizer, error) {
	path := tokenizerPath(dir)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		t, err := tokenizer.LoadDir(dir)
		if errors.Is(err, tokenizer.ErrNoTokenizer) {
			return nil, fmt.Errorf("%s does not exist: generate needs the model's tokenizer.json (or its SentencePiece model: spm.model, spiece.model, tokenizer.model) beside config.json", path)
		}
		return t, err
	}
	if err := mustBeFile(path, "tokenizer"); err != nil {
		return nil, err
	}
	t, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err // "tokenizer: PATH: ..."
	}
	return t, nil
}

// textStream prints the decoded text of the tokens generated so far as it
// grows, holding back an incomplete UTF-8 sequence until its last byte
// arrives.
type textStream struct {
	tok     *tokenizer.Tokenizer
	w       io.Writer
	quiet   bool
	ids     []int
	printed string
}

// add records one token and prints what it adds to the text.
func (s *textStream) add(id int32) error {
	s.ids = append(s.ids, int(id))
	if s.quiet {
		return nil
	}
	text, err := s.text()
	if err != nil {
		return err
	}
	if strings.HasSuffix(text, string(utf8.RuneError)) || !strings.HasPrefix(text, s.printed) {
		return nil
	}
	if _, err := fmt.Fprint(s.w, text[len(s.printed):]); err != nil {
		return err
	}
	s.printed = text
	return nil
}

// text decodes every token so far, without special tokens. Ids past the
// tokenizer's vocabulary (models often pad their embedding table) have no
// text and are left out.
func (s *textStream) text() (string, error) {
	known := make([]int, 0, len(s.ids))
	for _, id := range s.ids {
		if _, ok := s.tok.IDToToken(id); ok {
			known = append(known, id)
		}
	}
	t, err := s.tok.Decode(known, true)
	if err != nil {
		return "", fmt.Errorf("decode tokens: %w", err)
	}
	return t, nil
}
