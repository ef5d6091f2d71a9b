"""The three model files of the workflow, with random weights, under the seed's file names.

Names, shapes and dtypes come from ComfyUI's own classes at the pinned commit, instantiated on the
meta device on the GPU machine (comfy_specs, needs torch): VaceWanModel with the config
wan_vace_fp8.py takes from comfy/model_detection.py, the umT5-XXL encoder that CLIPLoader type
"wan" builds (comfy/text_encoders/wan.py te(), scaled fp8), and the Wan 2.1 VAE that comfy/sd.py
VAE() builds for a state dict with "decoder.middle.0.residual.0.gamma".

formula_specs() (stdlib only) writes the diffusion model's and the text encoder's tensor lists out
by hand from comfy/ldm/wan/model.py and comfy/text_encoders/t5.py + umt5_config_xxl.json. Two uses:
the dry mode reconciles their byte counts with the real files' sizes in docker/models.json, and the
GPU run refuses to go on unless they equal what ComfyUI's classes produce.

The tokenizer. CLIPLoader type "wan" (comfy/sd.py load_text_encoder_state_dicts) takes the umT5
SentencePiece model from the checkpoint's own "spiece_model" tensor; ComfyUI ships none for umT5 in
comfy/text_encoders/ (t5_tokenizer is T5's, t5_pile_tokenizer AuraFlow's). Without the tensor,
SDTokenizer falls back to the sd1_tokenizer folder and SPieceTokenizer raises "invalid tokenizer".
The real umT5 spiece.model (google/umt5-xxl) cannot be fetched offline, so spiece_proto() builds a
real SentencePiece unigram ModelProto of umT5's size and special ids (pad 0, eos 1, unk 2, vocab
256384, byte fallback): sentencepiece loads it and tokenizes any text, but its pieces are not umT5's,
so token ids differ from the real tokenizer's (irrelevant with random weights).
"""

import json
import math
import os
import struct

from wan_vace_fp8 import CHECKPOINT_BYTES, UNET_CONFIG

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# comfy/text_encoders/umt5_config_xxl.json
UMT5 = {"d_model": 4096, "d_kv": 64, "num_heads": 64, "d_ff": 10240, "num_layers": 24, "vocab_size": 256384,
        "relative_attention_num_buckets": 32}
DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "U8": 1}


def models_manifest():
    with open(os.path.join(REPO, "docker", "models.json")) as fh:
        return {m["folder"]: m for m in json.load(fh)["models"]}


def diffusion_formula():
    """VaceWanModel's state dict (comfy/ldm/wan/model.py), with the dtypes of the fp16 checkpoint:
    fp16 everywhere except the patch embeddings, which ComfyUI creates as float32 Conv3d."""
    c = UNET_CONFIG
    dim, ffn, text_dim, freq = c["dim"], c["ffn_dim"], 4096, c["freq_dim"]
    patch = list(c["patch_size"])
    out = []

    def lin(name, o, i, dt="F16"):
        out.extend([(f"{name}.weight", [o, i], dt), (f"{name}.bias", [o], dt)])

    def block(p):
        for attn in ("self_attn", "cross_attn"):
            for x in "qkvo":
                lin(f"{p}.{attn}.{x}", dim, dim)
            out.extend([(f"{p}.{attn}.norm_q.weight", [dim], "F16"), (f"{p}.{attn}.norm_k.weight", [dim], "F16")])
        out.extend([(f"{p}.norm3.weight", [dim], "F16"), (f"{p}.norm3.bias", [dim], "F16")])  # cross_attn_norm
        lin(f"{p}.ffn.0", ffn, dim)
        lin(f"{p}.ffn.2", dim, ffn)
        out.append((f"{p}.modulation", [1, 6, dim], "F16"))

    out.extend([("patch_embedding.weight", [dim, c["in_dim"], *patch], "F32"), ("patch_embedding.bias", [dim], "F32")])
    lin("text_embedding.0", dim, text_dim)
    lin("text_embedding.2", dim, dim)
    lin("time_embedding.0", dim, freq)
    lin("time_embedding.2", dim, dim)
    lin("time_projection.1", dim * 6, dim)
    for i in range(c["num_layers"]):
        block(f"blocks.{i}")
    lin("head.head", c["out_dim"] * math.prod(patch), dim)
    out.append(("head.modulation", [1, 2, dim], "F16"))
    for i in range(c["vace_layers"]):
        block(f"vace_blocks.{i}")
        if i == 0:
            lin(f"vace_blocks.{i}.before_proj", dim, dim)
        lin(f"vace_blocks.{i}.after_proj", dim, dim)
    out.extend([("vace_patch_embedding.weight", [dim, c["vace_in_dim"], *patch], "F32"),
                ("vace_patch_embedding.bias", [dim], "F32")])
    return out


def text_encoder_formula(spiece_bytes):
    """The umT5-XXL encoder as CLIPLoader type "wan" loads a scaled-fp8 file: T5's encoder stack
    (comfy/text_encoders/t5.py; umT5 has a relative-attention bias in every layer), every Linear
    weight fp8 e4m3fn with a float32 scale_weight (comfy/ops.py scaled_fp8_ops), the "scaled_fp8"
    marker whose dtype t5xxl_detect reads, and the tokenizer bytes as "spiece_model"."""
    d, inner, ff, n = UMT5["d_model"], UMT5["d_kv"] * UMT5["num_heads"], UMT5["d_ff"], UMT5["num_layers"]
    out = [("shared.weight", [UMT5["vocab_size"], d], "F16")]

    def lin(name, o, i):
        out.extend([(f"{name}.weight", [o, i], "F8_E4M3"), (f"{name}.scale_weight", [], "F32")])

    for i in range(n):
        p = f"encoder.block.{i}.layer"
        for x in "qkvo":
            lin(f"{p}.0.SelfAttention.{x}", inner if x != "o" else d, d if x != "o" else inner)
        out.append((f"{p}.0.SelfAttention.relative_attention_bias.weight",
                    [UMT5["relative_attention_num_buckets"], UMT5["num_heads"]], "F16"))
        out.append((f"{p}.0.layer_norm.weight", [d], "F16"))
        lin(f"{p}.1.DenseReluDense.wi_0", ff, d)
        lin(f"{p}.1.DenseReluDense.wi_1", ff, d)
        lin(f"{p}.1.DenseReluDense.wo", d, ff)
        out.append((f"{p}.1.layer_norm.weight", [d], "F16"))
    out.append(("encoder.final_layer_norm.weight", [d], "F16"))
    out.append(("scaled_fp8", [0], "F8_E4M3"))
    out.append(("spiece_model", [spiece_bytes], "U8"))
    return out


def data_bytes(spec):
    return sum(math.prod(shape) * DTYPE_BYTES[dt] for _, shape, dt in spec)


def safetensors_header_bytes(spec):
    """Size of the header safetensors writes for these tensors with no metadata: 8-byte length,
    compact JSON, padded with spaces to a multiple of 8 (the Rust serializer's layout)."""
    offset, header = 0, {}
    for name, shape, dt in spec:
        n = math.prod(shape) * DTYPE_BYTES[dt]
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":"))
    return 8 + len(text) + (-len(text)) % 8


def reconcile():
    """Checks the formula specs against the real files' sizes (docker/models.json). Returns a list
    of {file, ok, detail}. For the diffusion model the data bytes are exact; what remains must be a
    safetensors header at least as long as the minimal one and 8-byte aligned. For the text encoder
    what remains beyond the weights is the real tokenizer proto plus the header, which must be
    positive and under 16 MiB (the proto's size is not known offline)."""
    files = models_manifest()
    out = []
    dm = diffusion_formula()
    rest = files["diffusion_models"]["size"] - data_bytes(dm)
    minimal = safetensors_header_bytes(dm)
    ok = files["diffusion_models"]["size"] == CHECKPOINT_BYTES and rest >= minimal and rest % 8 == 0 and rest < 1 << 20
    params = sum(math.prod(s) for _, s, _ in dm)
    out.append({"file": files["diffusion_models"]["name"], "ok": ok, "tensors": len(dm), "params": params,
                "detail": f"{len(dm)} tensors, {params} params, {data_bytes(dm)} data bytes; the file has {rest} more "
                          f"bytes: a header (minimal for these names {minimal}, 8-byte aligned: {rest % 8 == 0})"})
    te = text_encoder_formula(0)
    rest = files["text_encoders"]["size"] - data_bytes(te)
    ok = 0 < rest < 16 << 20
    params = sum(math.prod(s) for n, s, _ in te if n not in ("scaled_fp8", "spiece_model"))
    out.append({"file": files["text_encoders"]["name"], "ok": ok, "tensors": len(te), "params": params,
                "detail": f"{len(te)} tensors, {params} params, {data_bytes(te)} weight bytes (Linear fp8, rest fp16); "
                          f"the file has {rest} more bytes: the tokenizer proto and the header"})
    return out


# ---- SentencePiece model (protobuf wire format, sentencepiece_model.proto) ----------------------
def _varint(n):
    n &= (1 << 64) - 1  # int32 -1 is written as a 10-byte two's complement varint
    b = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        b.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(b)


def _field(num, wire, payload):
    key = _varint(num << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    if wire == 5:
        return key + struct.pack("<f", payload)
    return key + _varint(len(payload)) + payload


def _pieces(count):
    """`count` distinct ordinary pieces: '▁' and then words over a-z, each alone and with '▁'."""
    import itertools
    yield "\u2581"
    made = 1
    letters = "abcdefghijklmnopqrstuvwxyz"
    for length in itertools.count(1):
        for t in itertools.product(letters, repeat=length):
            for s in ("\u2581" + "".join(t), "".join(t)):
                if made == count:
                    return
                yield s
                made += 1


def spiece_proto(vocab=UMT5["vocab_size"]):
    """A SentencePiece unigram model with umT5's vocabulary size and special ids."""
    CONTROL, UNKNOWN, NORMAL, BYTE = 3, 2, 1, 6
    specials = [("<pad>", CONTROL), ("</s>", CONTROL), ("<unk>", UNKNOWN)]
    out = bytearray()
    for piece, kind in specials + [(f"<0x{b:02X}>", BYTE) for b in range(256)]:
        out += _field(1, 2, _field(1, 2, piece.encode()) + _field(2, 5, 0.0) + _field(3, 0, kind))
    for i, piece in enumerate(_pieces(vocab - len(specials) - 256)):
        out += _field(1, 2, _field(1, 2, piece.encode()) + _field(2, 5, -1.0 - i / 1000.0) + _field(3, 0, NORMAL))
    trainer = (_field(3, 0, 1) + _field(4, 0, vocab) + _field(35, 0, 1)  # UNIGRAM, vocab_size, byte_fallback
               + _field(40, 0, 2) + _field(41, 0, -1) + _field(42, 0, 1) + _field(43, 0, 0))  # unk, bos, eos, pad
    normalizer = _field(1, 2, b"identity") + _field(3, 0, 1) + _field(4, 0, 1) + _field(5, 0, 1)
    return bytes(out + _field(2, 2, trainer) + _field(3, 2, normalizer))


# ---- On the GPU machine: ComfyUI's classes and the files -----------------------------------------
def comfy_specs(torch):
    """(file name, folder, [(tensor name, shape, torch dtype)]) from ComfyUI's classes on meta."""
    import comfy.ldm.wan.model as wan_model
    import comfy.ldm.wan.vae as wan_vae
    import comfy.ops
    import comfy.text_encoders.wan as wan_te

    files = models_manifest()
    unet = wan_model.VaceWanModel(**UNET_CONFIG, device="meta", dtype=torch.float16,
                                  operations=comfy.ops.disable_weight_init)
    dm = [(k, list(v.shape), v.dtype) for k, v in unet.state_dict().items()]
    # comfy/sd.py: load_text_encoder_state_dicts -> t5xxl_detect -> wan.te(dtype_t5, t5xxl_scaled_fp8)
    te_cls = wan_te.te(dtype_t5=torch.float16, t5xxl_scaled_fp8=torch.float8_e4m3fn)
    te = te_cls(device="meta", dtype=torch.float16).umt5xxl.transformer
    # scaled_fp8_ops creates the Linear weights in fp8 already, adds scale_weight, and SDClipModel adds
    # the "scaled_fp8" marker parameter: the state dict is the file's layout, bar "spiece_model".
    te_spec = [(k, list(v.shape), v.dtype) for k, v in te.state_dict().items()]
    vae_cfg = {"dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [],
               "temperal_downsample": [False, True, True], "dropout": 0.0}  # comfy/sd.py, Wan 2.1 VAE branch
    with torch.device("meta"):
        vae = wan_vae.WanVAE(**vae_cfg)
    vae_spec = [(k, list(v.shape), torch.float16) for k, v in vae.state_dict().items()]
    return [(files["diffusion_models"]["name"], "diffusion_models", dm),
            (files["text_encoders"]["name"], "text_encoders", te_spec),
            (files["vae"]["name"], "vae", vae_spec)]


def write_random(torch, spec, path, seed, extra=None):
    """A safetensors file of random tensors: fan-in scaled normals, norms near 1, biases small."""
    from safetensors.torch import save_file

    g = torch.Generator(device="cuda")
    tensors = {}
    for i, (name, shape, dtype) in enumerate(spec):
        g.manual_seed(seed + i)
        if math.prod(shape) == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        r = torch.randn(shape, generator=g, device="cuda", dtype=torch.float32)
        if name.endswith("scale_weight"):
            r = torch.ones(shape, device="cuda")
        elif name.endswith(("norm.weight", "gamma", "norm_q.weight", "norm_k.weight", "layer_norm.weight")):
            r = 1.0 + 0.01 * r  # norm scales (the VAE's RMS_norm gamma is [C, 1, 1(, 1)]) stay near 1
        elif len(shape) >= 2 and not name.endswith("modulation"):
            r = r / math.sqrt(math.prod(shape[1:]))
        else:
            r = 0.01 * r
        tensors[name] = r.to(dtype).cpu()
    tensors.update(extra or {})
    save_file(tensors, path)
    return os.path.getsize(path)


if __name__ == "__main__":
    print(json.dumps(reconcile(), indent=1))
