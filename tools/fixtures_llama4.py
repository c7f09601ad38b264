"""PEFT parity case for Llama 4's text model (model_type llama4_text, Llama4ForCausalLM).

Runs on a machine with torch, transformers 5 and peft (the GPU machine), reusing the
fixture generator kept beside the fixtures so that the case has exactly the layout of
testdata/fixtures/README.md:

    python3 tools/fixtures_llama4.py testdata/fixtures/make_fixtures.py OUTDIR

It writes OUTDIR/llama4_text: 4 layers alternating rope layers (chunked attention with
chunks of 3, L2 q/k norm, llama3 rope scaling) and NoPE layers (full attention,
attention temperature tuning with floor_scale 2, so that it scales queries from the
second token on), MoE feed-forwards on layers 1 and 3 (4 experts, top 1, sigmoid
router scores applied to the expert input, fused experts.gate_up_proj /
experts.down_proj, a shared expert) and dense MLPs of intermediate_size_mlp on
layers 0 and 2, GQA, left padding of three tokens in row 1 (the chunks then start
at that row's first real token, transformers' chunked_overlay), 9 tokens, so every
chunk boundary is crossed.

PEFT's IA3 tables have no "llama4_text" entry (only "llama4", the composite
Llama4ForConditionalGeneration), and PEFT looks up config.model_type, so
IA3Config() without target_modules raises for Llama4ForCausalLM. make_fixtures.py
builds its default adapters a and b without target_modules, so this script patches
PEFT's tables with the llama4 entry (q_proj, v_proj, down_proj; feed-forward
down_proj) under "llama4_text" before building the case, as tools/
fixtures_llama_family.py does for phi3. Record that in the case before committing
it: the Go side must pass those targets explicitly (this project, like PEFT, has no
llama4_text default). The targets match the attention projections, the dense MLPs'
down_proj and the shared experts' down_proj; the fused experts are parameters of
Llama4TextExperts, not Linear modules, so no IA3 target matches them.

The expert choice is a discrete top-1 over router logits: the script checks, on the
base model, that each token's best logit leads the second by more than ROUTE_GAP in
every MoE layer, so that float32 rounding differences between implementations cannot
flip a choice (pick another seed if it fails). The adapters move the router's input,
so their routing is reported, not asserted.

Every model runs with attn_implementation="eager".
"""
import importlib.util
import sys

gen_path, out = sys.argv[1], sys.argv[2]
sys.argv = [gen_path, out, "dev"]  # the generator reads OUT and SET at import
spec = importlib.util.spec_from_file_location("make_fixtures", gen_path)
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

import torch  # noqa: E402
from peft.utils import constants  # noqa: E402
from transformers import AutoModelForCausalLM, Llama4TextConfig  # noqa: E402

V = 256
ROUTE_GAP = 1e-3

# transformers counts chunks from each row's first real token (chunked_overlay with left_padding) only with
# torch >= 2.6; older torch falls back to _legacy_chunked_overlay, which ignores the padding and would record
# another mask for the left-padded row.
assert tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 6), torch.__version__

for mapping in ("TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING",
                "TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING"):
    for mod in (constants, mf):  # the generator may have imported the mapping by name
        table = getattr(mod, mapping, None)
        if table is not None and "llama4" in table:
            table["llama4_text"] = list(table["llama4"])

cfg = Llama4TextConfig(
    vocab_size=V, hidden_size=64, intermediate_size=32, intermediate_size_mlp=96, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=64, initializer_range=0.15,
    num_local_experts=4, num_experts_per_tok=1, interleave_moe_layer_step=2, no_rope_layer_interval=2,
    attention_chunk_size=3, attn_temperature_tuning=True, floor_scale=2, attn_scale=0.5, use_qk_norm=True,
    rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
    tie_word_embeddings=False, attention_dropout=0.0, pad_token_id=0)


def with_random_norms(model, seed):
    """Moves every RMS norm weight off its initial ones (the L2 q/k norm has none)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.dim() == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def build():
    m = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    assert type(m).__name__ == "Llama4ForCausalLM", type(m).__name__
    return with_random_norms(m, 931)


def left_padded_inputs(vocab, seed):
    """Row 1 starts with three pads (attention_mask 0, label -100)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (2, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    ids[1, :3] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def check_routing(build, inputs, seed):
    """Builds the base model as make_case does (after torch.manual_seed(seed)) and
    checks every MoE layer's top-1 margin over all tokens, pads included."""
    torch.manual_seed(seed)
    m = build().float().eval()
    gaps = {}

    def hook(i):
        def f(mod, args, out):
            logits = out[1] if isinstance(out, tuple) else out
            top = torch.topk(logits.float(), 2, dim=-1).values
            gaps[i] = (top[:, 0] - top[:, 1]).min().item()
            print(f"llama4_text layer {i} routing:", torch.argmax(logits, dim=-1).tolist())
        return f
    for i, layer in enumerate(m.model.layers):
        if getattr(layer, "is_moe_layer", False):
            layer.feed_forward.router.register_forward_hook(hook(i))
    with torch.no_grad():
        m(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    print("llama4_text smallest top-1 margins:", gaps)
    assert gaps and min(gaps.values()) > ROUTE_GAP, "pick another seed: a routing choice is nearly tied"


inputs = left_padded_inputs(V, 61)
mf.run(lambda: check_routing(build, inputs, 1210))
mf.run(lambda: mf.make_case("llama4_text", build, "CAUSAL_LM", inputs, [
    {},
    # not "all-linear": it would take the router (Llama4Router subclasses nn.Linear), whose
    # forward returns a tuple that PEFT's IA3 Linear cannot scale
    {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
     "feedforward_modules": ["gate_proj", "up_proj", "down_proj"]},
], seed=1210))
