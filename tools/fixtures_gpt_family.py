"""PEFT parity cases for the GPT-style decoders: OPT, BLOOM, Falcon, GPT-BigCode, GPT-J and GPT-Neo.

Not run yet: written while the GPU machine (torch, transformers 5, peft) was out of reach. Run it
there, check the output, and commit the cases under testdata/fixtures/peft/:

    python3 tools/fixtures_gpt_family.py testdata/fixtures/make_fixtures.py OUTDIR

It reuses the fixture generator kept beside the fixtures, so that every case has exactly the
layout of testdata/fixtures/README.md (base checkpoint, adapters a/b/w, every logit key, the
matching table, the 5-step trajectory). Every model runs with attn_implementation="eager".

What each case covers (the things that are easy to get wrong):
  opt              project_in/out (word_embed_proj_dim < hidden), positions counted over the mask
                   and offset by 2, left padding, tied head
  opt_post_ln      do_layer_norm_before=False (OPT-350m's post-LN blocks, no final_layer_norm)
  bloom            ALiBi with a non-power-of-2 head count (6), per-head fused query_key_value,
                   word_embeddings_layernorm, left padding (ALiBi positions from the mask)
  falcon           multi_query (one key/value head), parallel attention + MLP, rotary, tied head
  falcon_new       new_decoder_architecture, num_kv_heads=2 of 4 (grouped [q.., k, v] layout),
                   ln_attn/ln_mlp, untied head, biases
  falcon_seq       multi_query=False, parallel_attn=False (post_attention_layernorm), biases
  gpt_bigcode      multi_query fused c_attn (torch Linear, not Conv1D)
  gptj             rotary_dim < head_dim with interleaved (rotate_every_two) pairs, parallel block,
                   biased untied lm_head
  gpt_neo          global/local layers, window_size 4 shorter than the 9-token inputs, unscaled scores
"""
import importlib.util
import sys

gen_path, out = sys.argv[1], sys.argv[2]
sys.argv = [gen_path, out, "dev"]  # the generator reads OUT and SET at import
spec = importlib.util.spec_from_file_location("make_fixtures", gen_path)
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

import torch  # noqa: E402
from transformers import (AutoModelForCausalLM, BloomConfig, FalconConfig, GPTBigCodeConfig,  # noqa: E402
                          GPTJConfig, GPTNeoConfig, OPTConfig)

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


ocfg = OPTConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, ffn_dim=128,
                 max_position_embeddings=64, word_embed_proj_dim=32, dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.0, layerdrop=0.0, init_std=0.15, pad_token_id=1)
mf.run(lambda: mf.make_case("opt", causal(ocfg, 1), "CAUSAL_LM", left_padded(31), all_linear_and(
    {"target_modules": ["q_proj", "v_proj", "fc1"], "feedforward_modules": ["fc1"]}), seed=1000))
ocfg2 = OPTConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, ffn_dim=128,
                  max_position_embeddings=64, do_layer_norm_before=False, dropout=0.0, attention_dropout=0.0,
                  activation_dropout=0.0, layerdrop=0.0, init_std=0.15, pad_token_id=1)
mf.run(lambda: mf.make_case("opt_post_ln", causal(ocfg2, 2), "CAUSAL_LM", mf.causal_inputs(V, 32), [{}],
                            seed=1100))

bcfg = BloomConfig(vocab_size=V, hidden_size=48, n_layer=2, n_head=6, hidden_dropout=0.0, attention_dropout=0.0,
                   initializer_range=0.15)
mf.run(lambda: mf.make_case("bloom", causal(bcfg, 3), "CAUSAL_LM", left_padded(33), all_linear_and(
    {"target_modules": ["query_key_value", "dense_h_to_4h"], "feedforward_modules": ["dense_h_to_4h"]}),
    seed=1200))

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

gcfg = GPTBigCodeConfig(vocab_size=V, n_positions=64, n_embd=64, n_layer=2, n_head=4, multi_query=True,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=0.15)
mf.run(lambda: mf.make_case("gpt_bigcode", causal(gcfg, 7), "CAUSAL_LM", mf.causal_inputs(V, 37), all_linear_and(
    {"target_modules": ["c_attn", "c_fc"], "feedforward_modules": ["c_fc"]}), seed=1600))

jcfg = GPTJConfig(vocab_size=V, n_positions=64, n_embd=64, n_layer=2, n_head=4, rotary_dim=8, resid_pdrop=0.0,
                  embd_pdrop=0.0, attn_pdrop=0.0, initializer_range=0.15)
mf.run(lambda: mf.make_case("gptj", causal(jcfg, 8), "CAUSAL_LM", left_padded(38), all_linear_and(), seed=1700))

ncfg = GPTNeoConfig(vocab_size=V, max_position_embeddings=64, hidden_size=64, num_layers=2, num_heads=4,
                    attention_types=[[["global", "local"], 1]], window_size=4, intermediate_size=128,
                    resid_dropout=0.0, embed_dropout=0.0, attention_dropout=0.0, initializer_range=0.15)
mf.run(lambda: mf.make_case("gpt_neo", causal(ncfg, 9), "CAUSAL_LM", mf.causal_inputs(V, 39), all_linear_and(),
                            seed=1800))
