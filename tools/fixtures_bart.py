"""PEFT parity cases for BART (BartForConditionalGeneration and BartForSequenceClassification).

Not run yet: written while the GPU machine (torch, transformers 5, peft) was out of reach. Run it
there, check the output, and commit the cases under testdata/fixtures/peft/:

    python3 tools/fixtures_bart.py testdata/fixtures/make_fixtures.py OUTDIR

It reuses the fixture generator kept beside the fixtures, so that every case has exactly the
layout of testdata/fixtures/README.md (base checkpoint, adapters a/b/w, every logit key, the
matching table, the 5-step trajectory). Every model runs with attn_implementation="eager".

What each case covers (the things that are easy to get wrong):
  bart      learned positions offset by 2 on both stacks, scale_embedding (sqrt(d_model)),
            layernorm_embedding on both stacks, post-norm layers, gelu, head tied to model.shared,
            a non-zero final_logits_bias, labels shifted right behind decoder_start_token_id 2 with
            -100 as pad, right-padded encoder rows (pad 1); PEFT's bart defaults: q_proj, v_proj,
            fc2 (feed-forward) of the encoder, decoder self- and cross-attention
  bart_cls  BartForSequenceClassification (3 labels): decoder inputs are input_ids shifted right,
            the head reads the decoder state at each row's last EOS (2), right padding,
            scale_embedding off; all-linear includes classification_head.dense/out_proj (PEFT only
            leaves out heads named classifier or score); modules_to_save classification_head
"""
import importlib.util
import sys

gen_path, out = sys.argv[1], sys.argv[2]
sys.argv = [gen_path, out, "dev"]  # the generator reads OUT and SET at import
spec = importlib.util.spec_from_file_location("make_fixtures", gen_path)
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

import torch  # noqa: E402
from transformers import AutoModelForSeq2SeqLM, AutoModelForSequenceClassification, BartConfig  # noqa: E402
from transformers.models.bart.modeling_bart import shift_tokens_right  # noqa: E402

V = 256
PAD, EOS, START = 1, 2, 2
COMMON = dict(vocab_size=V, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
              decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=64,
              dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, classifier_dropout=0.0,
              init_std=0.15, pad_token_id=PAD, bos_token_id=0, eos_token_id=EOS, decoder_start_token_id=START,
              forced_eos_token_id=EOS)


def randomized(model, seed):
    """Moves every LayerNorm weight and bias and final_logits_bias off their initial values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.dim() == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=g))
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape, generator=g))
    return model


def encoder_inputs(seed, eos_last):
    """Two rows of 9 tokens, the second right-padded by two; with eos_last each row's last real token is
    the only EOS (BartForSequenceClassification pools there)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (2, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = PAD
    if eos_last:
        ids[0, 8], ids[1, 6] = EOS, EOS
    return ids, mask, g


gen_cfg = BartConfig(**COMMON, scale_embedding=True, activation_function="gelu", tie_word_embeddings=True)
enc, emask, g = encoder_inputs(51, eos_last=False)
labels = torch.randint(3, V, (2, 5), generator=g)
labels[1, 4:] = -100
dec = shift_tokens_right(labels, PAD, START)
mf.run(lambda: mf.make_case(
    "bart",
    lambda: randomized(AutoModelForSeq2SeqLM.from_config(gen_cfg, attn_implementation="eager"), 1101),
    "SEQ_2_SEQ_LM",
    {"input_ids": enc, "attention_mask": emask, "decoder_input_ids": dec, "labels": labels},
    [{}, {"target_modules": "all-linear"},
     {"target_modules": r".*decoder.*encoder_attn\.(k_proj|v_proj)$", "feedforward_modules": []}],
    seed=1110))

cls_cfg = BartConfig(**COMMON, scale_embedding=False, activation_function="gelu", num_labels=3)
cenc, cmask, _ = encoder_inputs(52, eos_last=True)
mf.run(lambda: mf.make_case(
    "bart_cls",
    lambda: randomized(AutoModelForSequenceClassification.from_config(cls_cfg, attn_implementation="eager"), 1102),
    "SEQ_CLS",
    {"input_ids": cenc, "attention_mask": cmask, "labels": torch.tensor([2, 0])},
    [{}, {"target_modules": "all-linear"},
     {"target_modules": ["q_proj", "v_proj", "fc2"], "feedforward_modules": ["fc2"],
      "modules_to_save": ["classification_head"]}],
    seed=1120))
