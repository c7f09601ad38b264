"""Extra PEFT parity cases for architectures the shared fixtures do not cover.

Runs on a machine with torch, transformers and peft (the H100 machine), reusing
the fixture generator kept beside the fixtures so that every case has exactly
the layout of testdata/fixtures/README.md:

    python3 tools/extra_fixtures.py testdata/fixtures/make_fixtures.py OUTDIR
"""
import importlib.util
import sys

gen_path, out = sys.argv[1], sys.argv[2]
sys.argv = [gen_path, out, "dev"]  # the generator reads OUT and SET at import
spec = importlib.util.spec_from_file_location("make_fixtures", gen_path)
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

import torch  # noqa: E402
from transformers import (AutoModelForCausalLM, MistralConfig, Qwen2Config, RobertaConfig,  # noqa: E402
                          RobertaForSequenceClassification, T5Config, T5ForConditionalGeneration)

V = 256
mcfg = MistralConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                     initializer_range=0.15, tie_word_embeddings=False, sliding_window=None)
mf.run(lambda: mf.make_case("mistral", lambda: AutoModelForCausalLM.from_config(mcfg, attn_implementation="eager"),
                            "CAUSAL_LM", mf.causal_inputs(V, 21), [
                                {},
                                {"target_modules": "all-linear"},
                                {"target_modules": ["k_proj", "v_proj", "up_proj"], "feedforward_modules": ["up_proj"]},
                            ], seed=500))
qcfg = Qwen2Config(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                   initializer_range=0.15, tie_word_embeddings=True, use_sliding_window=False)
mf.run(lambda: mf.make_case("qwen2", lambda: AutoModelForCausalLM.from_config(qcfg, attn_implementation="eager"),
                            "CAUSAL_LM", mf.causal_inputs(V, 22), [
                                {},
                                {"target_modules": "all-linear"},
                            ], seed=600))
rcfg = RobertaConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=80, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, num_labels=2, initializer_range=0.15, pad_token_id=1)
ri = mf.causal_inputs(V, 23)
ri["input_ids"][1, 6:] = 1  # RoBERTa pads with 1: positions start after padding_idx
mf.run(lambda: mf.make_case("roberta", lambda: RobertaForSequenceClassification(rcfg), "SEQ_CLS", {
    "input_ids": ri["input_ids"], "attention_mask": ri["attention_mask"], "labels": torch.tensor([1, 0])}, [
    {},
    {"target_modules": "all-linear"},
], seed=700))
tcfg = T5Config(vocab_size=V, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
                relative_attention_num_buckets=32, relative_attention_max_distance=64, dropout_rate=0.0,
                feed_forward_proj="gated-gelu", decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                initializer_factor=1.0, tie_word_embeddings=False)
g = torch.Generator().manual_seed(24)
enc = torch.randint(3, V, (2, 9), generator=g)
emask = torch.ones_like(enc)
emask[1, 7:] = 0
enc[1, 7:] = 0
labels = torch.randint(3, V, (2, 5), generator=g)
labels[1, 4:] = -100
dec = T5ForConditionalGeneration(tcfg)._shift_right(labels)
mf.run(lambda: mf.make_case("t5_gated", lambda: T5ForConditionalGeneration(tcfg), "SEQ_2_SEQ_LM",
                            {"input_ids": enc, "attention_mask": emask, "decoder_input_ids": dec, "labels": labels},
                            [{}, {"target_modules": "all-linear"}], seed=800))
