// Package safetensors reads and writes the safetensors checkpoint format
// that Hugging Face transformers and PEFT save.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes
// of JSON describing every tensor (dtype, shape, byte range in the data
// section) plus an optional "__metadata__" string map, then the raw
// little-endian tensor bytes. Open validates the whole header before any
// tensor is read, so a corrupt or hostile file yields an error naming the
// file and the tensor rather than a panic or a silent misread. Data is
// memory-mapped read-only where the platform allows it.
//
// OpenDir opens a model directory holding either one model.safetensors or
// a sharded checkpoint described by model.safetensors.index.json. Write
// saves tensors atomically, laid out as the reference implementation lays
// them out.
package safetensors
