// Package train fine-tunes (IA)³ adapters as PEFT + torch do: the
// optimiser is torch.optim.AdamW, the learning-rate schedules are
// transformers' get_scheduler ones (constant, constant with warmup,
// linear and cosine with warmup), gradients can be clipped by global norm
// (torch's clip_grad_norm_) and accumulated over micro-batches, and a
// fixed seed makes a run repeatable.
//
// Gradients are computed only for the trainable parameters ia3.Model
// lists (the (IA)³ vectors and modules_to_save copies); the frozen base
// weights get no gradient buffers (package nn guarantees it and
// TestFrozenWeightsGetNoGradient checks it for every architecture).
//
// Run is the trainer behind `ia3 train`: it reads JSONL data, tokenises it
// with the model's tokenizer.json, trains with a progress bar, evaluates
// at an interval, writes checkpoints atomically, and saves the adapter in
// PEFT's layout with a loss curve beside it:
//
//	res, err := train.Run(ctx, train.Options{
//		ModelDir:  "models/gpt2",
//		TrainFile: "data/train.jsonl",
//		OutDir:    "out/my-adapter",
//		Epochs:    3,
//		Progress:  os.Stderr,
//	})
//
// Cancelling ctx saves a checkpoint and returns an *InterruptedError;
// Resume continues it exactly. Evaluate measures loss (and accuracy for
// classification) of a model with or without an adapter on a JSONL file.
//
// The hot path stays on the device: a step runs forward, backward,
// accumulation, clipping and the AdamW update as backend operations and
// downloads one small tensor (the micro-batch losses, with the squared
// gradient norm when clipping) for the progress bar and NaN detection.
//
// Demo trains an adapter on a tiny byte-level GPT-2 generated at run time
// and a text corpus embedded in the package, the CLI's default action.
// Its base model is random, so the sample goes from byte noise to
// text-like bytes, not to fluent English.
package train
