// Package gguf reads GGUF files, the model format of llama.cpp (versions 2
// and 3, little-endian, one file or split into parts): the header, the
// typed key/value metadata (every value type, arrays included), the tensor
// table and the tensor data, and dequantises the common ggml tensor types (F32, F16,
// BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, and also Q4_1, Q5_0, Q5_1, Q2_K,
// Q3_K) to float32 with ggml's reference arithmetic.
//
// Every length, count, offset and size read from a file is checked against
// the file's size before anything is allocated, so a truncated or hostile
// file gives an error naming the field or tensor, never a panic or an
// allocation larger than the file.
//
// The package also maps a llama.cpp model (architectures llama, mistral,
// qwen2, qwen3, gemma, gemma2, gemma3) onto its Hugging Face form: the
// config.json keys (HFConfig), the tensor names and layouts as transformers
// names them (OpenShard, undoing convert_hf_to_gguf.py's rotary row
// permutation of Llama's q/k projections and Gemma's stored norm+1), and
// the tokenizer (TokenizerJSON), so that the model package loads a .gguf
// file as it loads a checkpoint directory.
package gguf
