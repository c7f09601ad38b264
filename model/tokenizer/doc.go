// Package tokenizer loads a Hugging Face tokenizer.json and encodes and
// decodes text exactly as the tokenizers library does.
//
// Supported are the pipelines of today's popular model families:
// byte-level BPE (GPT-2, Llama 3, Qwen2/3, DeepSeek-V3, GPT-4o's o200k,
// gpt-oss), SentencePiece-style BPE with byte fallback (Llama 2, Mistral,
// Gemma 3), Unigram with SentencePiece's precompiled normalizer (T5,
// FLAN-T5) and WordPiece with BERT's normalizer and pre-tokenizer (BERT
// family). A tokenizer.json is run through the same stages as in the
// tokenizers library:
//
//	added tokens → normalizer → pre-tokenizer → model → post-processor
//
// and decoded through its decoder chain. Every component type that is not
// implemented is refused at load time with an error naming it, so a
// tokenizer never silently encodes differently from the reference.
//
// Split and Replace regexes run on a backtracking engine with look-around
// (regexp2) with Oniguruma's Ruby syntax and its Unicode 16 classes; the
// character classes of the other components are the ones the Rust library
// uses (hf_classes.go, probed from it by gen_hf_classes.js). TestHFParity
// and TestHFComponents compare with the library itself.
//
// A model directory without tokenizer.json but with a SentencePiece model
// (spm.model, spiece.model, tokenizer.model) is converted as transformers
// converts a slow tokenizer (ReadSentencePiece, ConvertSentencePiece,
// LoadSentencePieceDir): DeBERTa-v2, T5, ALBERT and Llama layouts, chosen
// by tokenizer_config.json's tokenizer_class or config.json's model_type.
//
// Offsets in an Encoding are in Unicode code points of the input text, as
// Python's tokenizers reports them; ByteOffsets holds the same spans in
// bytes for slicing Go strings.
package tokenizer
