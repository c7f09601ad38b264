package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ia3/ia3/internal/atomicfile"
	"github.com/ia3/ia3/model/gguf"
	"github.com/spf13/cobra"
)

// mergeFlags are the flags of `ia3 merge`.
type mergeFlags struct {
	model, out, device, names string
	adapters                  []string
	safe                      bool
}

// newMergeCmd builds `ia3 merge`.
func newMergeCmd(a *app) *cobra.Command {
	var f mergeFlags
	cmd := &cobra.Command{
		Use:   "merge",
		Short: "Merge adapters into the base weights and save a plain checkpoint",
		Long: `Merge one or more (IA)³ adapters into the base model's weights
(PEFT's merge_and_unload) and save the result as an ordinary Hugging Face
checkpoint (config.json + model.safetensors, weights in their original
dtype) that transformers loads without PEFT. Tokenizer and generation files
found beside the base model are copied along. A llama.cpp .gguf base gives a
float32 checkpoint (quantised tensors dequantised, F16/BF16 kept) with the
tokenizer.json and tokenizer_config.json its metadata describes.

--adapter DIR[=NAME] loads an adapter (repeatable; NAME defaults to the
directory's base name). --adapters A,B chooses which of them to merge; by
default every loaded adapter is merged. --safe checks the merged weights for
NaN and Inf before committing them (safe_merge).`,
		Example: `  ia3 merge --model ./gpt2 --adapter my-adapter --out ./gpt2-merged
  ia3 merge --model ./llama --adapter ad/a --adapter ad/b --adapters a,b --safe --out ./llama-ab`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "model", "adapter", "out"); err != nil {
				return err
			}
			return runMerge(cmd, a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "base model directory, llama.cpp .gguf file, or Hub id org/name[@revision]")
	fl.StringArrayVar(&f.adapters, "adapter", nil, "PEFT adapter directory or Hub id, DIR or DIR=NAME (repeatable)")
	fl.StringVar(&f.names, "adapters", "", "comma-separated adapter names to merge (default: all loaded)")
	fl.BoolVar(&f.safe, "safe", false, "check merged weights for NaN/Inf before committing them")
	fl.StringVar(&f.out, "out", "", "directory to write the merged checkpoint to")
	addDeviceFlag(cmd, &f.device)
	return cmd
}

// runMerge merges the adapters into the base weights and saves the
// checkpoint with the tokenizer files beside it.
func runMerge(cmd *cobra.Command, a *app, f *mergeFlags) error {
	specs, err := parseAdapterSpecs(f.adapters)
	if err != nil {
		return err
	}
	if err := a.resolveModelAndAdapters(cmd.Context(), &f.model, specs); err != nil {
		return err
	}
	l, err := loadWithAdapters(cmd.Context(), f.device, f.model, specs)
	if err != nil {
		return err
	}
	defer l.close()
	names := l.names
	if f.names != "" {
		names = splitList(f.names)
	}
	merged, err := l.peft.MergeAndUnload(f.safe, names...)
	if err != nil {
		return fmt.Errorf("merge %v: %w", names, err)
	}
	l.base = merged
	if err := merged.Save(f.out); err != nil {
		return fmt.Errorf("save merged model to %s: %w", f.out, err)
	}
	if err := copySideFiles(f.model, f.out); err != nil {
		return err
	}
	slog.Info("merged checkpoint written", "dir", f.out, "adapters", names)
	fmt.Fprintf(a.stdout, "merged %v into %s\n", names, f.out)
	return nil
}

// sideFiles are the files beside a checkpoint that describe how to use it
// and that merging does not change.
var sideFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
	"generation_config.json", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "spm.model"}

// copySideFiles copies the tokenizer and generation files present in src
// to dst; for a GGUF source it writes the tokenizer.json and
// tokenizer_config.json (special tokens, chat template) its metadata
// describes, so that dst is a complete Hugging Face checkpoint.
func copySideFiles(src, dst string) error {
	if gguf.IsPath(src) {
		return writeGGUFSideFiles(src, dst)
	}
	for _, name := range sideFiles {
		if err := copyFile(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to dst atomically; a missing src is not an error.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// writeGGUFSideFiles writes the tokenizer files of GGUF file src into dst;
// a file without tokenizer metadata gets none.
func writeGGUFSideFiles(src, dst string) error {
	f, err := gguf.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, ok := f.Get("tokenizer.ggml.model"); !ok {
		return nil
	}
	tok, err := f.TokenizerJSON()
	if err != nil {
		return err
	}
	cfg := map[string]any{}
	for k, v := range f.SpecialTokenText() {
		cfg[k] = v
	}
	if t := f.ChatTemplate(); t != "" {
		cfg["chat_template"] = t
	}
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: tokenizer_config.json: %w", src, err)
	}
	for name, data := range map[string][]byte{"tokenizer.json": tok.JSON, "tokenizer_config.json": cfgJSON} {
		if err := atomicfile.Write(filepath.Join(dst, name), func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
