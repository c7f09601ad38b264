"""PEFT parity cases for DeBERTa (DebertaV2ForSequenceClassification and DebertaForSequenceClassification).

Not run yet: written while the GPU machine (torch, transformers 5, peft) was out of reach. Run it
there, check the output, and commit the cases under testdata/fixtures/peft/:

    python3 tools/fixtures_deberta.py testdata/fixtures/make_fixtures.py OUTDIR

It reuses the fixture generator kept beside the fixtures, so that every case has exactly the
layout of testdata/fixtures/README.md (base checkpoint, adapters a/b/w, every logit key, the
matching table, the 5-step trajectory). Every model runs with attn_implementation="eager".

What each case covers (the things that are easy to get wrong):
  deberta_v2  DeBERTa-v3's layout scaled down: relative attention with log buckets (position_buckets 8
              over max_relative_positions -1 = max_position_embeddings 64, 12 tokens so that distances
              past 4 share buckets), share_att_key (key_proj/query_proj also project rel_embeddings, so
              key_proj's vector scales the c2p position keys), pos_att_type "p2c|c2p", norm_rel_ebd
              layer_norm, no absolute positions, no token types; a right-padded row and a left-padded
              one (its pooled token 0 is padding: transformers 5 gives such a query uniform attention
              over every key); PEFT's deberta-v2 defaults: key_proj, value_proj, output.dense
              (feed-forward, which matches attention.output.dense too); modules_to_save classifier
  deberta_v2_conv  deberta-v2-xlarge's layout: deberta_v2's plus the ConvLayer (conv_kernel_size 3,
              conv_act gelu) added to the first layer's output
  deberta_talking_head  v1 with talking_head: head_logits_proj mixes the heads' scores before the softmax
              and head_weights_proj their probabilities after it (no released checkpoint uses it)
  deberta     DeBERTa v1: fused in_proj (q, k, v of each head side by side) with q_bias/v_bias moved off
              zero, pos_proj (bias-free) and pos_q_proj, max_relative_positions 6 below the 9 tokens (the
              span is min(length, 6) and positions clamp), absolute positions, two token types,
              DebertaLayerNorm; right padding; PEFT's deberta defaults: in_proj, output.dense
"""
import importlib.util
import sys

gen_path, out = sys.argv[1], sys.argv[2]
sys.argv = [gen_path, out, "dev"]  # the generator reads OUT and SET at import
spec = importlib.util.spec_from_file_location("make_fixtures", gen_path)
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, DebertaConfig, DebertaV2Config  # noqa: E402

V = 256
PAD = 0
COMMON = dict(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
              max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
              pooler_dropout=0.0, cls_dropout=0.0, initializer_range=0.15, layer_norm_eps=1e-7, pad_token_id=PAD,
              hidden_act="gelu", pooler_hidden_act="gelu", num_labels=3, relative_attention=True)


def randomized(model, seed):
    """Moves every LayerNorm weight and bias and v1's q_bias/v_bias (initialised to 0) off their initial
    values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ("LayerNorm" in name and p.dim() == 1) or name.endswith(("q_bias", "v_bias")):
                p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def inputs(seed, seq, rows, types):
    """rows of seq tokens: the second right-padded by three, a third (when rows is 3) left-padded by two;
    token type 1 on the second half of each row when types."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (rows, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[1, seq - 3:] = 0
    if rows > 2:
        mask[2, :2] = 0
    ids[mask == 0] = PAD
    d = {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([2, 0, 1][:rows])}
    if types:
        tt = torch.zeros_like(ids)
        tt[:, seq // 2:] = 1
        d["token_type_ids"] = tt * mask
    return d


def build(cfg, seed):
    return lambda: randomized(
        AutoModelForSequenceClassification.from_config(cfg, attn_implementation="eager"), seed)


v3_cfg = DebertaV2Config(**COMMON, position_buckets=8, max_relative_positions=-1, share_att_key=True,
                         pos_att_type="p2c|c2p", norm_rel_ebd="layer_norm", position_biased_input=False,
                         type_vocab_size=0)
mf.run(lambda: mf.make_case(
    "deberta_v2", build(v3_cfg, 1301), "SEQ_CLS", inputs(61, 12, 3, types=False),
    [{}, {"target_modules": "all-linear"},
     {"target_modules": ["query_proj", "value_proj", "intermediate.dense"],
      "feedforward_modules": ["intermediate.dense"], "modules_to_save": ["pooler"]}],
    seed=1310))

conv_cfg = DebertaV2Config(**COMMON, position_buckets=8, max_relative_positions=-1, share_att_key=True,
                           pos_att_type="p2c|c2p", norm_rel_ebd="layer_norm", position_biased_input=False,
                           type_vocab_size=0, conv_kernel_size=3, conv_act="gelu")
mf.run(lambda: mf.make_case(
    "deberta_v2_conv", build(conv_cfg, 1303), "SEQ_CLS", inputs(63, 12, 3, types=False),
    [{}, {"target_modules": "all-linear"}],
    seed=1330))

v1_cfg = DebertaConfig(**COMMON, max_relative_positions=6, pos_att_type="c2p|p2c", position_biased_input=True,
                       type_vocab_size=2)
mf.run(lambda: mf.make_case(
    "deberta", build(v1_cfg, 1302), "SEQ_CLS", inputs(62, 9, 2, types=True),
    [{}, {"target_modules": "all-linear"},
     {"target_modules": ["in_proj", "pos_q_proj", "output.dense"], "feedforward_modules": ["output.dense"],
      "modules_to_save": ["pooler"]}],
    seed=1320))

talk_cfg = DebertaConfig(**COMMON, max_relative_positions=6, pos_att_type="c2p|p2c", position_biased_input=True,
                         type_vocab_size=0, talking_head=True)
mf.run(lambda: mf.make_case(
    "deberta_talking_head", build(talk_cfg, 1304), "SEQ_CLS", inputs(64, 9, 2, types=False),
    [{}, {"target_modules": "all-linear"}],
    seed=1340))
