// Package tokenizer loads a Hugging Face tokenizer.json and encodes and
// decodes text exactly as the tokenizers library does.
//
// Supported are the pipelines that the model families of this project
// use: byte-level BPE (GPT-2, Llama 3, Qwen2), SentencePiece-style BPE with
// byte fallback (Llama 2, Mistral), Unigram with SentencePiece's
// precompiled normalizer (T5, FLAN-T5) and WordPiece with BERT's
// normalizer and pre-tokenizer (BERT family). A tokenizer.json is run
// through the same stages as in the tokenizers library:
//
//	added tokens → normalizer → pre-tokenizer → model → post-processor
//
// and decoded through its decoder chain. Every component type that is not
// implemented is refused at load time with an error naming it, so a
// tokenizer never silently encodes differently from the reference.
//
// Offsets in an Encoding are in Unicode code points of the input text, as
// Python's tokenizers reports them; ByteOffsets holds the same spans in
// bytes for slicing Go strings.
package tokenizer
