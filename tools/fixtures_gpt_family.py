"""PEFT parity cases for Falcon (the GPT-style decoder the arch branch's fixtures_llama_family.py leaves out).

Not run yet: written while the GPU machine (torch, transformers 5, peft) was out of reach. Run it
there, check the output, and commit the cases under testdata/fixtures/peft/:

    python3 tools/fixtures_gpt_family.py testdata/fixtures/make_fixtures.py OUTDIR

It reuses the fixture generator kept beside the fixtures, so that every case has exactly the
layout of testdata/fixtures/README.md (base checkpoint, adapters a/b/w, every logit key, the
matching table, the 5-step trajectory). Every model runs with attn_implementation="eager".
opt, bloom, gptj, gpt_neo, gpt_bigcode and gpt_neox cases come from tools/fixtures_llama_family.py
(arch branch); the case names here do not collide with those.

What each case covers (the things that are easy to get wrong):
  falcon           multi_query (one key/value head), parallel attention + MLP, rotary, tied head
  falcon_new       new_decoder_architecture, num_kv_heads=2 of 4 (grouped [q.., k, v] layout),
                   ln_attn/ln_mlp, untied head, biases, left padding
  falcon_seq       multi_query=False, parallel_attn=False (post_attention_layernorm), biases

Sequence classifiers (…ForSequenceClassification: a bias-free `score` on each row's rightmost token that
is not pad_token_id; PEFT's SEQ_CLS adds score to modules_to_save), 3 labels, pad_token_id 0, row 0
right-padded and row 1 left-padded, as fixtures_llama_family.py's llama_seqcls:
  gpt2_seqcls         GPT2ForSequenceClassification (Conv1D c_attn, learned positions)
  gpt_neox_seqcls     GPTNeoXForSequenceClassification (parallel residual, partial rotary)
  gptj_seqcls         GPTJForSequenceClassification (interleaved rotary, parallel MLP)
  gpt_neo_seqcls      GPTNeoForSequenceClassification (global + local window 3)
  bloom_seqcls        BloomForSequenceClassification (ALiBi over mask-counted positions)
  opt_seqcls          OPTForSequenceClassification (project_out: score reads word_embed_proj_dim)
  falcon_seqcls       FalconForSequenceClassification (new_decoder_architecture, 2 kv heads)
  gpt_bigcode_seqcls  GPTBigCodeForSequenceClassification (multi-query)
  phi_seqcls          PhiForSequenceClassification (biased q/k/v, partial rotary, parallel MLP)
"""
import importlib.util
import sys

gen_path, out = sys.argv[1], sys.argv[2]
sys.argv = [gen_path, out, "dev"]  # the generator reads OUT and SET at import
spec = importlib.util.spec_from_file_location("make_fixtures", gen_path)
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

import torch  # noqa: E402
from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification, BloomConfig,  # noqa: E402
                          FalconConfig, GPT2Config, GPTBigCodeConfig, GPTJConfig, GPTNeoConfig, GPTNeoXConfig,
                          OPTConfig, PhiConfig)

V = 256


def with_random_norms(model, seed):
    """Moves every LayerNorm weight and bias off its initial value so that the norms are tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ("norm" in name or ".ln_" in name or name.endswith(("ln_f.weight", "ln_f.bias"))) and p.dim() == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def causal(cfg, seed):
    return lambda: with_random_norms(AutoModelForCausalLM.from_config(cfg, attn_implementation="eager"), seed)


def left_padded(seed):
    """causal_inputs with row 1 left-padded by two tokens instead of right-padded."""
    inp = mf.causal_inputs(V, seed)
    ids, mask = inp["input_ids"].clone(), torch.ones_like(inp["input_ids"])
    ids[1, 2:] = inp["input_ids"][1, :7]
    ids[1, :2] = 0
    mask[1, :2] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def all_linear_and(*cfgs):
    return [{}, {"target_modules": "all-linear"}, *cfgs]


fcfg = FalconConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, multi_query=True,
                    parallel_attn=True, alibi=False, bias=False, max_position_embeddings=64, hidden_dropout=0.0,
                    attention_dropout=0.0, initializer_range=0.15)
mf.run(lambda: mf.make_case("falcon", causal(fcfg, 4), "CAUSAL_LM", mf.causal_inputs(V, 34), all_linear_and(),
                            seed=1300))
fcfg2 = FalconConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     new_decoder_architecture=True, num_kv_heads=2, alibi=False, bias=True,
                     max_position_embeddings=64, hidden_dropout=0.0, attention_dropout=0.0,
                     initializer_range=0.15, tie_word_embeddings=False)
mf.run(lambda: mf.make_case("falcon_new", causal(fcfg2, 5), "CAUSAL_LM", left_padded(35), all_linear_and(),
                            seed=1400))
fcfg3 = FalconConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, multi_query=False,
                     parallel_attn=False, alibi=False, bias=True, max_position_embeddings=64, hidden_dropout=0.0,
                     attention_dropout=0.0, initializer_range=0.15)
mf.run(lambda: mf.make_case("falcon_seq", causal(fcfg3, 6), "CAUSAL_LM", mf.causal_inputs(V, 36), [{}],
                            seed=1500))


def seqcls(cfg, seed):
    return lambda: with_random_norms(AutoModelForSequenceClassification.from_config(cfg, attn_implementation="eager"),
                                     seed)


def seqcls_inputs(seed, pad=0):
    """Row 0 right-padded by two, row 1 left-padded by three, pads equal to pad_token_id (the heads pool the
    rightmost token that is not pad_token_id, whatever the mask says)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (2, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 7:] = 0
    mask[1, :3] = 0
    ids[mask == 0] = pad
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([2, 0])}


SEQCLS = dict(num_labels=3, pad_token_id=0)
NO_DROPOUT = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
seqcls_cases = [
    ("gpt2_seqcls", GPT2Config(vocab_size=V, n_embd=64, n_layer=2, n_head=4, n_positions=64, initializer_range=0.15,
                               **NO_DROPOUT, **SEQCLS)),
    ("gpt_neox_seqcls", GPTNeoXConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, max_position_embeddings=64, rotary_pct=0.5,
                                      hidden_dropout=0.0, attention_dropout=0.0, initializer_range=0.15, **SEQCLS)),
    ("gptj_seqcls", GPTJConfig(vocab_size=V, n_embd=64, n_inner=128, n_layer=2, n_head=4, n_positions=64,
                               rotary_dim=8, initializer_range=0.15, **NO_DROPOUT, **SEQCLS)),
    ("gpt_neo_seqcls", GPTNeoConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4,
                                    max_position_embeddings=64, window_size=3,
                                    attention_types=[[["global", "local"], 1]], resid_dropout=0.0, embed_dropout=0.0,
                                    attention_dropout=0.0, initializer_range=0.15, **SEQCLS)),
    ("bloom_seqcls", BloomConfig(vocab_size=V, hidden_size=64, n_layer=2, n_head=4, hidden_dropout=0.0,
                                 attention_dropout=0.0, initializer_range=0.15, **SEQCLS)),
    ("opt_seqcls", OPTConfig(vocab_size=V, hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
                             max_position_embeddings=64, word_embed_proj_dim=32, dropout=0.0, attention_dropout=0.0,
                             init_std=0.15, **SEQCLS)),
    ("falcon_seqcls", FalconConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                   new_decoder_architecture=True, num_kv_heads=2, alibi=False, bias=True,
                                   max_position_embeddings=64, hidden_dropout=0.0, attention_dropout=0.0,
                                   initializer_range=0.15, **SEQCLS)),
    ("gpt_bigcode_seqcls", GPTBigCodeConfig(vocab_size=V, n_embd=64, n_inner=128, n_layer=2, n_head=4,
                                            n_positions=64, multi_query=True, initializer_range=0.15,
                                            **NO_DROPOUT, **SEQCLS)),
    ("phi_seqcls", PhiConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                             num_attention_heads=4, max_position_embeddings=64, partial_rotary_factor=0.5,
                             resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0, initializer_range=0.15,
                             **SEQCLS)),
]
for i, (name, cfg) in enumerate(seqcls_cases):
    mf.run(lambda name=name, cfg=cfg, i=i: mf.make_case(name, seqcls(cfg, 1600 + i), "SEQ_CLS", seqcls_inputs(60 + i),
                                                        all_linear_and(), seed=1600 + 10 * i))
