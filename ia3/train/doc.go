// Package train fine-tunes (IA)³ adapters: the optimiser (torch's AdamW),
// learning-rate schedules as transformers' get_scheduler defines them,
// gradient clipping by global norm and gradient accumulation, and a
// trainer that reads JSONL data, tokenises it with the model's tokenizer,
// trains with progress reporting, evaluation and checkpoints, and saves the
// adapter in PEFT's format.
//
// Gradients are computed only for the trainable parameters ia3.Model
// lists (the (IA)³ vectors and modules_to_save copies); the frozen base
// weights get no gradient buffers (package nn guarantees it).
//
// The hot path stays on the device: one training step runs forward,
// backward, accumulation, clipping and the AdamW update as backend
// operations and downloads a single small tensor (the loss, and the
// squared gradient norm when clipping) for progress and NaN detection.
//
// Demo trains an adapter on a tiny model generated at run time and a text
// corpus embedded in the package, as the CLI's default action shows.
package train
