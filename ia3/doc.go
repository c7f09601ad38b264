// Package ia3 is PEFT's (IA)³ API in Go: IA3Config, module matching,
// adapters attached to a model's Linear/Conv1D layers, several adapters
// side by side, merging into the base weights, weighted combination, and
// the adapter_config.json + adapter_model.safetensors files PEFT reads and
// writes.
//
// An (IA)³ adapter rescales activations with learned vectors: for keys,
// values and other non-feed-forward targets the layer output is multiplied
// by l (y = (x·Wᵀ + b) ⊙ l); for feed-forward targets the layer input is
// (y = (x ⊙ l)·Wᵀ + b). The vectors are the only trainable parameters,
// besides copies of any modules_to_save modules (a classification head).
//
// Everything here follows peft 0.21: which modules a config selects, the
// parameter and file key names, the saved shapes ((out, 1) or (1, in)), and
// which operations are refused. Where this package deliberately differs it
// says so in the doc comment of the function concerned.
package ia3
