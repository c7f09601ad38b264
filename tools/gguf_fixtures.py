#!/usr/bin/env python3
"""Write the GGUF test files under testdata/gguf with llama.cpp's own gguf-py.

    /usr/bin/python3 tools/gguf_fixtures.py --gguf-py DIR [--fixtures testdata/fixtures/peft] [--out testdata/gguf]

DIR holds gguf-py's package (a directory `gguf/` with gguf_writer.py, quants.py and constants.py from
github.com/ggml-org/llama.cpp, gguf-py/gguf); it is not part of this repository. Only numpy is needed.

Every .gguf file here is written by gguf-py's GGUFWriter, and every expected dequantised value comes from
gguf-py's quants.dequantize, never from this project's Go code:

- llama-{f32,f16,bf16,q8_0,q4_0}.gguf: the llama fixture checkpoint converted as convert_hf_to_gguf.py
  converts a LlamaForCausalLM (llama.cpp tensor names, q/k rows permuted for its rotary layout, 1-D norms
  kept F32), its 2-D tensors stored in the named type (F16 with numpy, BF16/Q8_0/Q4_0 with gguf-py's
  quantize). The f16 file uses general.alignment = 64; the q8_0 file also carries a small SentencePiece-style
  tokenizer ("llama", 256 pieces) and a chat template, so that training runs on it end to end.
- mistral-f32.gguf, qwen2-f32.gguf: the mistral and qwen2 fixtures (mistral is written with architecture
  "llama", as the converter does; qwen2 has q/k/v biases, tied embeddings and no permutation).
- {qwen3,gemma,gemma2,gemma3,llama3}-f32.gguf with directories of the same names (config.json +
  model.safetensors): tiny random checkpoints made here in numpy (transformers is not needed). Gemma's norm
  weights are stored as w+1, Gemma 2/3's sandwich norms under llama.cpp's names, and the Llama 3 rope
  scaling as the rope_freqs tensor of per-frequency factors, as the converter does.
- mixtral-{f32,q8_0}.gguf with the directory mixtral (config.json + model.safetensors): a tiny random
  MixtralForCausalLM (3 experts, top 2) converted as convert_hf_to_gguf.py converts it: architecture "llama"
  with llama.expert_count/expert_used_count, the router as blk.N.ffn_gate_inp (kept F32, as the converter
  keeps it), each layer's experts stacked into blk.N.ffn_{gate,up,down}_exps [experts, out, in] (w1, w3, w2),
  stored as F32 or Q8_0. Not yet run (gguf-py was not at hand when it was added); the Go tests
  TestGGUFMixtral/TestGGUFMixtralErrors write their own Mixtral files meanwhile. Once written, TestGGUFLogits
  counts 14 model files and TestGGUFMatchesCheckpoint can take mixtral-f32.gguf against mixtral/.
- kquant-{q4_k,q5_k,q6_k}.gguf: a tiny random llama whose rows are 256 wide (k-quant blocks are 256
  elements). gguf-py cannot quantise k-quant types, so quantise_k below packs valid blocks (f16 scales
  from the weights' ranges); the files are written by GGUFWriter with raw_dtype and the expected values
  are gguf-py's dequantisation of those bytes.
- llama-split-0000{1,2,3}-of-00003.gguf: llama-q8_0.gguf's tensors (without its tokenizer) split by gguf-py
  after every 8 tensors, as llama-gguf-split writes large models.
- types-extra.gguf: one small tensor of each of Q4_1, Q5_0, Q5_1 (quantised by gguf-py) and Q2_K, Q3_K
  (controlled random bytes with finite f16 scales), for the dequantisation check only.
- vocab-llama.gguf, vocab-gpt2.gguf: vocabulary-only files (as llama.cpp's models/ggml-vocab-*.gguf) made
  from the sentencepiece_bpe and bytelevel_bpe tokenizer fixtures: tokenizer.ggml.* keys and a chat
  template.
- expected.json: for every file and tensor, the type, shape and the SHA-256 of gguf-py's dequantised
  float32 bytes (and the first 16 values); expected.safetensors: the logits of the equivalent dequantised
  models (`<file>/logits`, from the numpy forward below in float64, on the gguf-py-dequantised weights
  with the permutation undone) and the inputs they were computed for (`inputs/input_ids`,
  `inputs/attention_mask`). The numpy forward is checked here against transformers' logits_base of the
  llama fixture before anything is written.
"""

import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np


def load_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[v["dtype"]]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"]).copy()
    return out


def save_safetensors(path, tensors):
    hdr, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        dt = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        raw = a.tobytes()
        hdr[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---- HF -> GGUF, as convert_hf_to_gguf.py does for these architectures ----

LAYER_MAP = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "block_sparse_moe.gate.weight": "ffn_gate_inp.weight",  # Mixtral's router
}

# Mixtral's expert weights and the stacked llama.cpp tensor each goes into.
EXPERT_MAP = {"w1": "ffn_gate_exps.weight", "w3": "ffn_up_exps.weight", "w2": "ffn_down_exps.weight"}


SANDWICH_MAP = {  # Gemma 2 and 3 name their four norms per layer differently
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
}


def gguf_name(hf, arch="llama"):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    assert parts[0] == "model" and parts[1] == "layers", hf
    rest = ".".join(parts[3:])
    if arch in ("gemma2", "gemma3") and rest in SANDWICH_MAP:
        return "blk.%s.%s" % (parts[2], SANDWICH_MAP[rest])
    return "blk.%s.%s" % (parts[2], LAYER_MAP[rest])


def permute(w, n_head, n_head_kv):
    # LlamaModel.permute in convert_hf_to_gguf.py
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def to_gguf_tensors(cfg, sd, arch):
    """HF state dict -> ordered {gguf name: float32 array} as the converter writes them."""
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    out = {}
    names = sorted(sd, key=lambda n: (n != "model.embed_tokens.weight", n))
    experts = {}  # (layer, w1|w2|w3) -> {expert: array}
    for hf in names:
        w = sd[hf].astype(np.float32)
        if ".block_sparse_moe.experts." in hf:
            parts = hf.split(".")  # model.layers.N.block_sparse_moe.experts.E.wX.weight
            experts.setdefault((int(parts[2]), parts[6]), {})[int(parts[5])] = w
            continue
        if hf == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            continue
        if arch == "llama":
            if hf.endswith(("q_proj.weight", "q_proj.bias")):
                w = permute(w, n_head, n_head)
            if hf.endswith(("k_proj.weight", "k_proj.bias")):
                w = permute(w, n_head, n_kv)
        if arch.startswith("gemma") and hf.endswith("norm.weight"):
            w = w + 1
        out[gguf_name(hf, arch)] = w
    # LlamaModel.modify_tensors stacks each layer's experts into one [experts, out, in] tensor.
    for (layer, wx), per in sorted(experts.items()):
        out[f"blk.{layer}.{EXPERT_MAP[wx]}"] = np.stack([per[e] for e in range(len(per))])
    rs = cfg.get("rope_scaling") or {}
    if rs.get("rope_type") == "llama3":
        # LlamaModel.generate_extra_tensors: the per-frequency factors as the rope_freqs tensor
        base = cfg.get("rope_theta", 10000.0)
        dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
        factor, low, high = rs.get("factor", 8.0), rs.get("low_freq_factor", 1.0), rs.get("high_freq_factor", 4.0)
        old = rs.get("original_max_position_embeddings", 8192)
        low_wave, high_wave = old / low, old / high
        factors = []
        for freq in freqs:
            wave = 2 * np.pi / freq
            if wave < high_wave:
                factors.append(1)
            elif wave > low_wave:
                factors.append(factor)
            else:
                smooth = (old / wave - low) / (high - low)
                factors.append(1 / ((1 - smooth) / factor + smooth))
        out["rope_freqs.weight"] = np.array(factors, dtype=np.float32)
    return out


def add_hparams(gw, cfg, arch):
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    gw.add_uint32(f"{arch}.context_length", cfg["max_position_embeddings"])
    gw.add_uint32(f"{arch}.embedding_length", cfg["hidden_size"])
    gw.add_uint32(f"{arch}.block_count", cfg["num_hidden_layers"])
    gw.add_uint32(f"{arch}.feed_forward_length", cfg["intermediate_size"])
    gw.add_uint32(f"{arch}.attention.head_count", cfg["num_attention_heads"])
    gw.add_uint32(f"{arch}.attention.head_count_kv", cfg.get("num_key_value_heads", cfg["num_attention_heads"]))
    gw.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"])
    rope = cfg.get("rope_parameters") or {}
    gw.add_float32(f"{arch}.rope.freq_base", rope.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    if arch in ("gemma2", "gemma3"):
        gw.add_uint32(f"{arch}.attention.sliding_window", cfg["sliding_window"])
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if cfg.get(key):
                gw.add_float32(f"{arch}.{key}", cfg[key])
    gw.add_uint32(f"{arch}.rope.dimension_count", head_dim)
    if head_dim != cfg["hidden_size"] // cfg["num_attention_heads"] or arch in ("gemma", "gemma2", "gemma3", "qwen3"):
        gw.add_uint32(f"{arch}.attention.key_length", head_dim)
        gw.add_uint32(f"{arch}.attention.value_length", head_dim)
    gw.add_uint32(f"{arch}.vocab_size", cfg["vocab_size"])
    if cfg.get("num_local_experts"):
        gw.add_uint32(f"{arch}.expert_count", cfg["num_local_experts"])
        gw.add_uint32(f"{arch}.expert_used_count", cfg["num_experts_per_tok"])


def small_spm_vocab(n):
    """A SentencePiece-style vocabulary of n pieces for the llama fixture's 256-token embedding: the
    specials, "▁", ASCII characters and frequent English pieces, scored so longer pieces merge first."""
    import string
    toks = ["<unk>", "<s>", "</s>", "\u2581"] + list(string.ascii_letters + string.digits + string.punctuation)
    pieces = ["th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of", "ed",
              "is", "it", "al", "ar", "st", "to", "nt", "ng", "se", "ha", "as", "ou", "io", "le", "ve", "co",
              "me", "de", "hi", "ri", "ro", "ic", "ne", "ea", "ra", "ce", "li", "ch", "ll", "be", "ma", "si",
              "om", "ur", "the", "ing", "and", "ion", "ent", "her", "for", "tha", "nth", "int", "ere", "tio"]
    for w in pieces:
        toks += [w, "\u2581" + w]
    extra = ["\u2581" + c for c in string.ascii_lowercase]
    toks += [t for t in extra if t not in toks]
    toks = list(dict.fromkeys(toks))[:n]
    while len(toks) < n:
        toks.append(f"<unused{len(toks)}>")
    T = {"<unk>": 2, "<s>": 3, "</s>": 3}
    types = [T.get(t, 5 if t.startswith("<unused") else 1) for t in toks]
    scores = [0.0 if types[i] != 1 else -float(i) + (100.0 * len(t) if len(t) > 1 else 0.0) for i, t in enumerate(toks)]
    return toks, scores, types


def add_tokenizer(gguf, gw, n):
    VT = gguf.GGUFValueType
    toks, scores, types = small_spm_vocab(n)
    gw.add_string("tokenizer.ggml.model", "llama")
    gw.add_key_value("tokenizer.ggml.tokens", toks, VT.ARRAY, sub_type=VT.STRING)
    gw.add_key_value("tokenizer.ggml.scores", scores, VT.ARRAY, sub_type=VT.FLOAT32)
    gw.add_key_value("tokenizer.ggml.token_type", types, VT.ARRAY, sub_type=VT.INT32)
    gw.add_uint32("tokenizer.ggml.bos_token_id", 1)
    gw.add_uint32("tokenizer.ggml.eos_token_id", 2)
    gw.add_uint32("tokenizer.ggml.unknown_token_id", 0)
    gw.add_bool("tokenizer.ggml.add_bos_token", True)
    gw.add_string("tokenizer.chat_template",
                  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                  "{% if add_generation_prompt %}assistant:{% endif %}")


def write_gguf(gguf, path, arch, cfg, tensors, qtype_name, alignment=None, tokenizer=False, split_max_tensors=0):
    """Write tensors (gguf layout, float32) with 2-D ones stored as qtype_name. Returns
    {name: (type name, raw stored array)} for the expectations."""
    Q = gguf.GGMLQuantizationType
    gw = gguf.GGUFWriter(path, arch, split_max_tensors=split_max_tensors)
    gw.add_string("general.name", os.path.basename(path))
    if alignment:
        gw.add_custom_alignment(alignment)
    add_hparams(gw, cfg, arch)
    if tokenizer:
        add_tokenizer(gguf, gw, cfg["vocab_size"])
    stored = {}
    for name, w in tensors.items():
        # Matrices (and stacked experts) in the named type; norms and Mixtral's router stay F32.
        qt = Q[qtype_name.upper()] if w.ndim >= 2 and not name.endswith("ffn_gate_inp.weight") else Q.F32
        if qt == Q.F32:
            data = w.astype(np.float32)
            gw.add_tensor(name, data)
        elif qt == Q.F16:
            data = w.astype(np.float16)
            gw.add_tensor(name, data)
        elif qt in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
            data = quantise_k(w, qt.name)
            gw.add_tensor(name, data, raw_dtype=qt)
        else:
            data = gguf.quantize(w, qt)
            gw.add_tensor(name, data, raw_dtype=qt)
        stored[name] = (qt, data)
        if qt in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
            # The packed blocks must be a close coding of the weights, else the tests exercise noise.
            err = np.abs(gguf.dequantize(data, qt) - w).max() / np.abs(w).max()
            assert err < 0.1, f"{name}: {qt.name} coding error {err}"
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    return stored


# ---- k-quant blocks (gguf-py only dequantises these types) ----

def f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def quantise_k(w, kind):
    """Pack w (rows of a multiple of 256) into valid Q4_K/Q5_K/Q6_K blocks. Not ggml's optimal search:
    per-sub-block range scales rounded to the 6-bit (Q4/5_K) or int8 (Q6_K) grids."""
    blocks = w.reshape(-1, 256).astype(np.float32)
    out = []
    for x in blocks:
        if kind == "Q6_K":
            sub = x.reshape(16, 16)
            amax = np.abs(sub).max(axis=1) / 31.0
            d = f16(amax.max() / 127.0)
            df = np.float32(d)
            sc = np.clip(np.round(amax / df), 1, 127).astype(np.int8) if df > 0 else np.ones(16, np.int8)
            q = np.clip(np.round(sub / (df * sc.astype(np.float32))[:, None]), -32, 31).astype(np.int32) + 32
            q = q.reshape(256)
            ql = np.zeros(128, np.uint8)
            qh = np.zeros(64, np.uint8)
            for n in range(2):
                y = q[128 * n:128 * (n + 1)]
                for l in range(32):
                    q1, q2, q3, q4 = y[l], y[l + 32], y[l + 64], y[l + 96]
                    ql[64 * n + l] = (q1 & 15) | ((q3 & 15) << 4)
                    ql[64 * n + l + 32] = (q2 & 15) | ((q4 & 15) << 4)
                    qh[32 * n + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
            out.append(np.concatenate([ql, qh, sc.view(np.uint8), d.reshape(1).view(np.uint8)]))
            continue
        levels = 15 if kind == "Q4_K" else 31
        sub = x.reshape(8, 32)
        mn = np.minimum(sub.min(axis=1), 0)
        scale = (sub.max(axis=1) - mn) / levels
        d, dmin = f16(scale.max() / 63), f16((-mn).max() / 63)
        df, dmf = np.float32(d), np.float32(dmin)
        sc = np.clip(np.round(scale / df), 0, 63).astype(np.uint8) if df > 0 else np.zeros(8, np.uint8)
        m = np.clip(np.round(-mn / dmf), 0, 63).astype(np.uint8) if dmf > 0 else np.zeros(8, np.uint8)
        step = df * sc.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(step[:, None] > 0, np.round((sub + (dmf * m.astype(np.float32))[:, None]) / step[:, None]), 0)
        q = np.clip(q, 0, levels).astype(np.uint8).reshape(256)
        scales = np.zeros(12, np.uint8)
        for j in range(4):
            scales[j] = sc[j] | ((sc[j + 4] >> 4) << 6)
            scales[j + 4] = m[j] | ((m[j + 4] >> 4) << 6)
            scales[j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4)
        qs = np.zeros(128, np.uint8)
        qh = np.zeros(32, np.uint8)
        for j in range(4):
            lo, hi = q[64 * j:64 * j + 32], q[64 * j + 32:64 * j + 64]
            qs[32 * j:32 * j + 32] = (lo & 15) | ((hi & 15) << 4)
            qh |= ((lo >> 4) & 1) << (2 * j)
            qh |= ((hi >> 4) & 1) << (2 * j + 1)
        head = [d.reshape(1).view(np.uint8), dmin.reshape(1).view(np.uint8), scales]
        if kind == "Q4_K":
            out.append(np.concatenate(head + [qs]))
        else:
            out.append(np.concatenate(head + [qh, qs]))
    rows = w.shape[0]
    return np.stack(out).reshape(rows, -1)


# ---- float64 forward of the llama family (the expected logits of a dequantised model) ----

def rmsnorm(x, w, eps, gemma=False):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return y * ((1.0 + w) if gemma else w)


def rope(x, theta):
    hd = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    pos = np.arange(x.shape[-2], dtype=np.float64)
    ang = np.concatenate([np.outer(pos, inv)] * 2, axis=-1)
    rot = np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], axis=-1)
    return x * np.cos(ang) + rot * np.sin(ang)


def forward(cfg, sd, ids):
    """HF-layout float weights -> logits [B, T, V] (causal, no padding mask: right padding leaves the
    valid positions unchanged)."""
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    gemma = cfg["model_type"] == "gemma"
    H, KV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    theta = (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)
    x = sd["model.embed_tokens.weight"][ids]
    if gemma:
        x = x * np.float64(np.float32(np.sqrt(cfg["hidden_size"])))
    B, T, _ = x.shape
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rmsnorm(x, sd[p + "input_layernorm.weight"], eps, gemma)

        def proj(n, h=h):
            y = h @ sd[p + f"self_attn.{n}_proj.weight"].T
            b = sd.get(p + f"self_attn.{n}_proj.bias")
            return y + b if b is not None else y
        q = proj("q").reshape(B, T, H, hd).transpose(0, 2, 1, 3)
        k = proj("k").reshape(B, T, KV, hd).transpose(0, 2, 1, 3)
        v = proj("v").reshape(B, T, KV, hd).transpose(0, 2, 1, 3)
        if p + "self_attn.q_norm.weight" in sd:
            q = rmsnorm(q, sd[p + "self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, sd[p + "self_attn.k_norm.weight"], eps)
        q, k = rope(q, theta), rope(k, theta)
        k, v = np.repeat(k, H // KV, axis=1), np.repeat(v, H // KV, axis=1)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(0, 2, 1, 3).reshape(B, T, H * hd)
        x = x + o @ sd[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, sd[p + "post_attention_layernorm.weight"], eps, gemma)
        if p + "block_sparse_moe.gate.weight" in sd:
            x = x + moe(cfg, sd, p + "block_sparse_moe.", h)
            continue
        g = h @ sd[p + "mlp.gate_proj.weight"].T
        act = g / (1 + np.exp(-g)) if not gemma else 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g ** 3)))
        x = x + (act * (h @ sd[p + "mlp.up_proj.weight"].T)) @ sd[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, sd["model.norm.weight"], eps, gemma)
    head = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    return x @ head.T


def moe(cfg, sd, p, h):
    """MixtralSparseMoeBlock: softmax of the router logits, the top num_experts_per_tok experts renormalised
    to sum to 1, each expert w2(silu(w1 h) * w3 h)."""
    E, k = cfg["num_local_experts"], cfg["num_experts_per_tok"]
    flat = h.reshape(-1, h.shape[-1])
    logits = flat @ sd[p + "gate.weight"].T
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = np.zeros_like(flat)
    for n in range(flat.shape[0]):
        top = np.argsort(-probs[n], kind="stable")[:k]
        w = probs[n, top] / probs[n, top].sum()
        for e, we in zip(top, w):
            q = f"{p}experts.{e}."
            g = flat[n] @ sd[q + "w1.weight"].T
            out[n] += we * (((g / (1 + np.exp(-g))) * (flat[n] @ sd[q + "w3.weight"].T)) @ sd[q + "w2.weight"].T)
    assert E == len({k.split(".")[-3] for k in sd if k.startswith(p + "experts.")})
    return out.reshape(h.shape)


# ---- expectations ----

def expect_tensors(gguf, stored):
    out = {}
    for name, (qt, data) in stored.items():
        deq = gguf.dequantize(data, qt).astype(np.float32)
        raw = np.ascontiguousarray(deq).tobytes()
        out[name] = {"type": qt.name, "shape": list(deq.shape), "sha256": hashlib.sha256(raw).hexdigest(),
                     "first": [float(v) for v in deq.reshape(-1)[:16]]}
    return out


def dequantised_hf(gguf, stored, cfg, arch):
    """gguf-py's dequantisation of every stored tensor, mapped back to HF names and layout."""
    inv = {}
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    rev = {v: k for k, v in LAYER_MAP.items()}
    if arch in ("gemma2", "gemma3"):
        rev.update({v: k for k, v in SANDWICH_MAP.items()})
    for name, (qt, data) in stored.items():
        if name == "rope_freqs.weight":
            continue
        w = gguf.dequantize(data, qt).astype(np.float32)
        if name.endswith("_exps.weight"):
            _, n, rest = name.split(".", 2)
            wx = {v: k for k, v in EXPERT_MAP.items()}[rest]
            for e in range(w.shape[0]):
                inv[f"model.layers.{n}.block_sparse_moe.experts.{e}.{wx}.weight"] = w[e]
            continue
        if name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            hf = "model.norm.weight"
        elif name == "output.weight":
            hf = "lm_head.weight"
        else:
            _, n, rest = name.split(".", 2)
            hf = f"model.layers.{n}.{rev[rest]}"
        if arch == "llama" and rest_is(name, ("attn_q.weight", "attn_q.bias")):
            w = unpermute(w, n_head, n_head)
        if arch == "llama" and rest_is(name, ("attn_k.weight", "attn_k.bias")):
            w = unpermute(w, n_head, n_kv)
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            w = w - 1
        inv[hf] = w
    return inv


def rest_is(name, suffixes):
    return name.endswith(suffixes)


def types_file(gguf, path):
    """One tensor of each further type ggml models use (Q4_1, Q5_0, Q5_1 quantised by gguf-py; Q2_K and Q3_K
    blocks of controlled random bytes with finite f16 scales, as gguf-py only dequantises those)."""
    Q = gguf.GGMLQuantizationType
    rng = np.random.default_rng(17)
    gw = gguf.GGUFWriter(path, "llama")
    stored = {}
    for qt in (Q.Q4_1, Q.Q5_0, Q.Q5_1):
        data = gguf.quantize((rng.standard_normal((4, 64)) * 0.1).astype(np.float32), qt)
        gw.add_tensor(f"{qt.name.lower()}.weight", data, raw_dtype=qt)
        stored[f"{qt.name.lower()}.weight"] = (qt, data)
    for qt, scale_at in ((Q.Q2_K, (80, 82)), (Q.Q3_K, (108,))):
        size = gguf.GGML_QUANT_SIZES[qt][1]
        blocks = rng.integers(0, 256, size=(8, size), dtype=np.uint8)
        for at in scale_at:
            blocks[:, at:at + 2] = f16(rng.uniform(0.001, 0.02, size=8)).view(np.uint8).reshape(8, 2)
        data = blocks.reshape(2, 4 * size)
        gw.add_tensor(f"{qt.name.lower()}.weight", data, raw_dtype=qt)
        stored[f"{qt.name.lower()}.weight"] = (qt, data)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    return stored


def vocab_files(gguf, tokdir, out):
    """vocab-llama.gguf and vocab-gpt2.gguf from the tokenizer fixtures."""
    T = gguf.TokenType
    VT = gguf.GGUFValueType
    # SentencePiece-style ("llama"): scores rank the pieces by the merge that makes them.
    tj = json.load(open(os.path.join(tokdir, "sentencepiece_bpe", "tokenizer.json")))
    vocab = tj["model"]["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    rank = {"".join(m.split(" ")): i for i, m in enumerate(merges)}
    toks = sorted(vocab, key=vocab.get)
    special = {t["content"] for t in tj["added_tokens"] if t["special"]}
    scores = [-float(rank.get(t, 0)) if t not in special else 0.0 for t in toks]
    types = [T.UNKNOWN if t == "<unk>" else T.CONTROL if t in special else T.NORMAL for t in toks]
    gw = gguf.GGUFWriter(os.path.join(out, "vocab-llama.gguf"), "llama")
    gw.add_string("tokenizer.ggml.model", "llama")
    gw.add_key_value("tokenizer.ggml.tokens", toks, VT.ARRAY, sub_type=VT.STRING)
    gw.add_key_value("tokenizer.ggml.scores", scores, VT.ARRAY, sub_type=VT.FLOAT32)
    gw.add_key_value("tokenizer.ggml.token_type", [int(t) for t in types], VT.ARRAY, sub_type=VT.INT32)
    gw.add_uint32("tokenizer.ggml.bos_token_id", vocab["<s>"])
    gw.add_uint32("tokenizer.ggml.eos_token_id", vocab["</s>"])
    gw.add_uint32("tokenizer.ggml.unknown_token_id", vocab["<unk>"])
    gw.add_bool("tokenizer.ggml.add_bos_token", False)
    gw.add_bool("tokenizer.ggml.add_eos_token", False)
    gw.add_string("tokenizer.chat_template",
                  "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}")
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    # Byte-level BPE ("gpt2").
    tj = json.load(open(os.path.join(tokdir, "bytelevel_bpe", "tokenizer.json")))
    vocab = tj["model"]["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    toks = sorted(vocab, key=vocab.get)
    special = {t["content"] for t in tj["added_tokens"] if t["special"]}
    gw = gguf.GGUFWriter(os.path.join(out, "vocab-gpt2.gguf"), "qwen2")
    gw.add_string("tokenizer.ggml.model", "gpt2")
    gw.add_string("tokenizer.ggml.pre", "gpt-2")
    gw.add_key_value("tokenizer.ggml.tokens", toks, VT.ARRAY, sub_type=VT.STRING)
    gw.add_key_value("tokenizer.ggml.token_type", [int(T.CONTROL if t in special else T.NORMAL) for t in toks],
                     VT.ARRAY, sub_type=VT.INT32)
    gw.add_key_value("tokenizer.ggml.merges", merges, VT.ARRAY, sub_type=VT.STRING)
    gw.add_uint32("tokenizer.ggml.eos_token_id", vocab["<|endoftext|>"])
    gw.add_uint32("tokenizer.ggml.bos_token_id", vocab["<|endoftext|>"])
    gw.add_bool("tokenizer.ggml.add_bos_token", False)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()


def random_case(kind, seed):
    """A tiny random HF checkpoint (config, state dict) for qwen3, gemma or the k-quant llama."""
    rng = np.random.default_rng(seed)
    if kind == "kquant":
        cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=256, intermediate_size=256,
                   num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2, head_dim=64, vocab_size=128,
                   max_position_embeddings=64, rms_norm_eps=1e-6, rope_parameters={"rope_theta": 10000.0, "rope_type": "default"},
                   tie_word_embeddings=False, hidden_act="silu", attention_bias=False, mlp_bias=False)
    elif kind == "qwen3":
        cfg = dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], hidden_size=32, intermediate_size=64,
                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=96,
                   max_position_embeddings=64, rms_norm_eps=1e-6, rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"},
                   tie_word_embeddings=True, hidden_act="silu", attention_bias=False)
    elif kind == "mixtral":
        cfg = dict(model_type="mixtral", architectures=["MixtralForCausalLM"], hidden_size=32, intermediate_size=64,
                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8, vocab_size=96,
                   max_position_embeddings=64, rms_norm_eps=1e-5, rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"},
                   num_local_experts=3, num_experts_per_tok=2, router_jitter_noise=0.0, sliding_window=None,
                   tie_word_embeddings=False, hidden_act="silu")
    elif kind == "llama3":
        cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32, intermediate_size=64,
                   num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16, vocab_size=96,
                   max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 8192},
                   tie_word_embeddings=True, hidden_act="silu", attention_bias=False, mlp_bias=False)
    elif kind in ("gemma2", "gemma3"):
        cfg = dict(model_type=kind if kind == "gemma2" else "gemma3_text",
                   architectures=["Gemma2ForCausalLM" if kind == "gemma2" else "Gemma3ForCausalLM"],
                   hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, head_dim=16, vocab_size=96, max_position_embeddings=64, rms_norm_eps=1e-6,
                   rope_theta=10000.0 if kind == "gemma2" else 1000000.0, query_pre_attn_scalar=16,
                   sliding_window=4096, tie_word_embeddings=True, hidden_activation="gelu_pytorch_tanh",
                   attention_bias=False)
        if kind == "gemma2":
            cfg.update(attn_logit_softcapping=50.0, final_logit_softcapping=30.0)
        else:
            cfg.update(attn_logit_softcapping=None, final_logit_softcapping=None, rope_local_base_freq=10000.0,
                       sliding_window_pattern=6)
    else:
        cfg = dict(model_type="gemma", architectures=["GemmaForCausalLM"], hidden_size=32, intermediate_size=64,
                   num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16, vocab_size=96,
                   max_position_embeddings=64, rms_norm_eps=1e-6, rope_parameters={"rope_theta": 10000.0, "rope_type": "default"},
                   tie_word_embeddings=True, hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh",
                   attention_bias=False)
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    std = 0.15 if kind != "kquant" else 0.06

    def n(*shape):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm(d):
        base = 0.0 if kind.startswith("gemma") else 1.0
        return (base + 0.2 * rng.standard_normal(d)).astype(np.float32)
    sd = {"model.embed_tokens.weight": n(V, D), "model.norm.weight": norm(D)}
    if not cfg["tie_word_embeddings"]:
        sd["lm_head.weight"] = n(V, D)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = norm(D)
        sd[p + "post_attention_layernorm.weight"] = norm(D)
        sd[p + "self_attn.q_proj.weight"] = n(H * hd, D)
        sd[p + "self_attn.k_proj.weight"] = n(KV * hd, D)
        sd[p + "self_attn.v_proj.weight"] = n(KV * hd, D)
        sd[p + "self_attn.o_proj.weight"] = n(D, H * hd)
        if kind == "mixtral":
            sd[p + "block_sparse_moe.gate.weight"] = n(cfg["num_local_experts"], D)
            for e in range(cfg["num_local_experts"]):
                q = f"{p}block_sparse_moe.experts.{e}."
                sd[q + "w1.weight"], sd[q + "w3.weight"], sd[q + "w2.weight"] = n(I, D), n(I, D), n(D, I)
        else:
            sd[p + "mlp.gate_proj.weight"] = n(I, D)
            sd[p + "mlp.up_proj.weight"] = n(I, D)
            sd[p + "mlp.down_proj.weight"] = n(D, I)
        if kind in ("qwen3", "gemma3"):
            sd[p + "self_attn.q_norm.weight"] = norm(hd)
            sd[p + "self_attn.k_norm.weight"] = norm(hd)
        if kind in ("gemma2", "gemma3"):
            sd[p + "pre_feedforward_layernorm.weight"] = norm(D)
            sd[p + "post_feedforward_layernorm.weight"] = norm(D)
    return cfg, sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf-py", required=True)
    ap.add_argument("--fixtures", default="testdata/fixtures/peft")
    ap.add_argument("--out", default="testdata/gguf")
    a = ap.parse_args()
    sys.path.insert(0, a.gguf_py)
    import gguf
    os.makedirs(a.out, exist_ok=True)

    expected = {}
    logits = {}

    # The numpy forward against transformers on the llama fixture.
    llama_cfg = json.load(open(os.path.join(a.fixtures, "llama", "base", "config.json")))
    llama_sd = load_safetensors(os.path.join(a.fixtures, "llama", "base", "model.safetensors"))
    inputs = load_safetensors(os.path.join(a.fixtures, "llama", "inputs.safetensors"))
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    ref = load_safetensors(os.path.join(a.fixtures, "llama", "expected.safetensors"))["logits_base_f64"]
    got = forward(llama_cfg, llama_sd, ids)
    err = np.abs(got - ref)[mask == 1].max()
    assert err < 1e-4, f"numpy forward differs from transformers by {err}"
    print(f"numpy forward vs transformers logits_base_f64 (llama): max |diff| {err:.2e}")
    logits["inputs/input_ids"] = ids.astype(np.int64)
    logits["inputs/attention_mask"] = mask.astype(np.int64)

    def case(fname, arch, cfg, sd, qtype, alignment=None, tokenizer=False, with_logits=True):
        path = os.path.join(a.out, fname)
        stored = write_gguf(gguf, path, arch, cfg, to_gguf_tensors(cfg, sd, arch), qtype, alignment, tokenizer)
        expected[fname] = {"tensors": expect_tensors(gguf, stored)}
        if with_logits:
            deq = dequantised_hf(gguf, stored, cfg, arch)
            logits[fname + "/logits"] = forward(cfg, deq, ids % cfg["vocab_size"]).astype(np.float32)
        print(f"{fname}: {os.path.getsize(path)} bytes")

    for qt in ["f32", "f16", "bf16", "q8_0", "q4_0"]:
        case(f"llama-{qt}.gguf", "llama", llama_cfg, llama_sd, qt, 64 if qt == "f16" else None, qt == "q8_0")
    for name, arch in [("mistral", "llama"), ("qwen2", "qwen2")]:
        cfg = json.load(open(os.path.join(a.fixtures, name, "base", "config.json")))
        sd = load_safetensors(os.path.join(a.fixtures, name, "base", "model.safetensors"))
        case(f"{name}-f32.gguf", arch, cfg, sd, "f32")
    for kind, seed in [("qwen3", 3), ("gemma", 7), ("gemma2", 5), ("gemma3", 9), ("llama3", 13)]:
        cfg, sd = random_case(kind, seed)
        d = os.path.join(a.out, kind)
        os.makedirs(d, exist_ok=True)
        cfg_out = dict(cfg, dtype="float32", bos_token_id=None, eos_token_id=None, pad_token_id=None)
        json.dump(cfg_out, open(os.path.join(d, "config.json"), "w"), indent=2)
        save_safetensors(os.path.join(d, "model.safetensors"), sd)
        arch = "llama" if kind == "llama3" else kind
        # The numpy forward covers Llama, Qwen and Gemma 1; the Gemma 2/3 and Llama 3 rope files are checked
        # in Go against their checkpoints (model: TestGGUFMatchesCheckpoint).
        case(f"{kind}-f32.gguf", arch, cfg, sd, "f32", with_logits=kind in ("qwen3", "gemma"))
    # Mixtral: the llama architecture with stacked experts, F32 (against its checkpoint) and Q8_0.
    mcfg, msd = random_case("mixtral", 17)
    d = os.path.join(a.out, "mixtral")
    os.makedirs(d, exist_ok=True)
    json.dump(dict(mcfg, dtype="float32", bos_token_id=None, eos_token_id=None, pad_token_id=None),
              open(os.path.join(d, "config.json"), "w"), indent=2)
    save_safetensors(os.path.join(d, "model.safetensors"), msd)
    for qt in ["f32", "q8_0"]:
        case(f"mixtral-{qt}.gguf", "llama", mcfg, msd, qt)
    kcfg, ksd = random_case("kquant", 11)
    for qt in ["q4_k", "q5_k", "q6_k"]:
        case(f"kquant-{qt}.gguf", "llama", kcfg, ksd, qt)
    # The Q8_0 llama again, split by gguf-py after every 8 tensors into llama-split-0000N-of-00003.gguf
    # (split.* keys, metadata in the first part), as llama-gguf-split writes large models.
    write_gguf(gguf, os.path.join(a.out, "llama-split.gguf"), "llama", llama_cfg,
               to_gguf_tensors(llama_cfg, llama_sd, "llama"), "q8_0", split_max_tensors=8)
    stored = types_file(gguf, os.path.join(a.out, "types-extra.gguf"))
    expected["types-extra.gguf"] = {"tensors": expect_tensors(gguf, stored)}
    vocab_files(gguf, os.path.join(a.fixtures, "tokenizers"), a.out)
    json.dump(expected, open(os.path.join(a.out, "expected.json"), "w"), indent=1, sort_keys=True)
    save_safetensors(os.path.join(a.out, "expected.safetensors"), logits)


if __name__ == "__main__":
    main()
