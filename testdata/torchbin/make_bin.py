#!/usr/bin/env python3
"""Writes the torch.save (pytorch_model.bin) fixtures of model/torchbin from the
safetensors fixtures in testdata/fixtures, with torch's own serializer.

Run from the repository root with a Python that has torch (Debian's
python3-torch 1.13 made the committed files):

    /usr/bin/python3 testdata/torchbin/make_bin.py

No safetensors package is needed: the format is read here directly.
"""
import io
import json
import os
import shutil
import struct
import sys

import torch

ROOT = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(ROOT, "..", "fixtures", "peft")

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in hdr.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(data[a:b])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    hdr, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        b = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        hdr[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def main():
    torch.manual_seed(0)
    qwen = os.path.join(FIX, "qwen2", "base")
    sd = read_safetensors(os.path.join(qwen, "model.safetensors"))
    # qwen2 ties lm_head to the embedding table; transformers' state_dict
    # holds both names on one storage, as torch.save then writes them.
    assert "lm_head.weight" not in sd
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"]

    # 1. float32, one file, tied weights on one shared storage.
    d = fresh(os.path.join(ROOT, "qwen2_f32"))
    shutil.copy(os.path.join(qwen, "config.json"), d)
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))

    # 2. float16, one file.
    d = fresh(os.path.join(ROOT, "qwen2_f16"))
    shutil.copy(os.path.join(qwen, "config.json"), d)
    half = {k: v.half() for k, v in sd.items()}
    half["lm_head.weight"] = half["model.embed_tokens.weight"]
    torch.save(half, os.path.join(d, "pytorch_model.bin"))

    # 3. bfloat16, two shards joined by pytorch_model.bin.index.json, as
    #    transformers' save_pretrained(safe_serialization=False) writes them.
    d = fresh(os.path.join(ROOT, "qwen2_bf16_sharded"))
    shutil.copy(os.path.join(qwen, "config.json"), d)
    names = sorted(k for k in sd if k != "lm_head.weight")
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        fn = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(shards))
        torch.save({k: sd[k].bfloat16() for k in part}, os.path.join(d, fn))
        for k in part:
            weight_map[k] = fn
            total += sd[k].numel() * 2
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")

    # 4. A PEFT adapter saved as adapter_model.bin (save_pretrained with
    #    safe_serialization=False), from llama's adapter "a".
    src = os.path.join(FIX, "llama", "adapters", "a")
    d = fresh(os.path.join(ROOT, "llama_adapter_a"))
    shutil.copy(os.path.join(src, "adapter_config.json"), d)
    torch.save(read_safetensors(os.path.join(src, "adapter_model.safetensors")), os.path.join(d, "adapter_model.bin"))

    # 5. Views: shared storages, offsets, non-contiguous strides, a
    #    Parameter, every float dtype; the safetensors twin holds each
    #    tensor made contiguous.
    d = fresh(os.path.join(ROOT, "views"))
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
    t = {
        "base": base,
        "shared_reshaped": base.view(6, 4),
        "transposed": base.t(),
        "slice": base[1:3, 2:5],
        "every_other_column": base[:, ::2],
        "row_offset": base[3],
        "scalar": base[2, 3],
        "empty": base[:0],
        "param": torch.nn.Parameter(torch.linspace(-2, 2, 10)),
        "half_t": base.half().t(),
        "bf16_slice": base.bfloat16()[1:, 1::3],
        "f64": base.double()[::2],
        "i64": torch.arange(7, dtype=torch.int64) - 3,
        "permuted3d": torch.arange(60, dtype=torch.float32).reshape(3, 4, 5).permute(2, 0, 1),
    }
    torch.save(t, os.path.join(d, "views.bin"))
    write_safetensors(os.path.join(d, "views.safetensors"),
                      {k: v.detach().contiguous() for k, v in t.items()})

    # 6. Saved to a buffer, torch names the archive directory "archive"
    #    instead of the file stem.
    buf = io.BytesIO()
    torch.save({"x": base}, buf)
    with open(os.path.join(d, "renamed.bin"), "wb") as f:
        f.write(buf.getvalue())
    # 7. Pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL)
    #    for the same tensors as views.bin.
    torch.save(t, os.path.join(d, "protocol4.bin"), pickle_protocol=4)

    # 8. The legacy format before torch 1.6 (a bare pickle stream), which
    #    the reader refuses.
    torch.save({"x": base}, os.path.join(d, "legacy.bin"), _use_new_zipfile_serialization=False)
    print("torch", torch.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
