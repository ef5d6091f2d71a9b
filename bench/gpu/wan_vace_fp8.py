#!/usr/bin/env python3
"""FP8 weight storage vs FP16 for the Wan2.1-VACE-1.3B denoiser, as ComfyUI 0.3.64 runs it.

What this measures
------------------
Peak GPU memory and median time of ONE denoiser forward pass (one sampler step, one
model call) of Wan2.1-VACE-1.3B, built from ComfyUI's own model code, with the weights
stored in each of the dtypes the UNETLoader node's `weight_dtype` input can select:

  default          -> the fp16 checkpoint stays fp16 (ops: comfy.ops.disable_weight_init)
  fp8_e4m3fn       -> weights stored fp8, cast to fp16 per layer on use (comfy.ops.manual_cast)
  fp8_e4m3fn_fast  -> weights fp8 and comfy.ops.fp8_ops (torch._scaled_mm) where the GPU
                      supports fp8 compute; the project's workflows/vace-r2v.json uses this.

THE WEIGHTS ARE RANDOM. No real checkpoint is available here. Time and memory of a dense
transformer depend on tensor shapes and dtypes, not on weight values, so they are measured;
output quality is NOT measured (the fp8-vs-fp16 output difference printed at the end is a
sanity check on random weights, not a quality figure). No text encoder and no VAE run:
the text context is random data of umt5-xxl's output shape (512 x 4096).

ComfyUI code used (tree exported at the commit pinned in docker/comfyui/Dockerfile,
637221995f7424a561bd825de3e61ea117dfe1e3 = "ComfyUI version 0.3.64"; pass --comfyui):
  comfy/ldm/wan/model.py      VaceWanModel, the VACE variant of WanModel (the model itself)
  comfy/model_detection.py    detect_unet_config(): the Wan 2.1 branch derives the config from
                              checkpoint tensor shapes (num_heads = dim // 128, vace_layers =
                              count of vace_blocks.N, vace_in_dim = vace_patch_embedding in-ch)
  comfy/supported_models.py   WAN21_T2V.supported_inference_dtypes, WAN21_Vace memory factor
  comfy/sd.py                 load_diffusion_model_state_dict(): unet_dtype / manual-cast choice
  nodes.py                    UNETLoader.load_unet(): weight_dtype option -> model_options
  comfy/model_base.py         BaseModel.__init__ (pick_operations), _apply_model (input casts),
                              WAN21_Vace.extra_conds (vace_context = 16+16 latents + 64 mask ch)
  comfy/model_management.py   unet_dtype(), unet_manual_cast(), supports_fp8_compute()
  comfy/ops.py                pick_operations(), manual_cast, fp8_ops / fp8_linear()
  comfy/ldm/modules/attention.py  optimized_attention (PyTorch SDPA on NVIDIA by default)
  execution.py                nodes run under torch.inference_mode()

Shapes (the project's smoke profiles, smoke/profiles.ts):
  ci   = 480x480, 9 frames  -> latent 60x60, (9-1)/4+1 = 3 frames + 1 VACE reference = 4;
         cfg 1 -> ComfyUI skips the uncond pass -> batch 1; 4 steps
  full = 480x480, 49 frames -> 13 + 1 = 14 latent frames; cfg 4 -> cond+uncond batched
         into one call (comfy/samplers.py calc_cond_batch) -> batch 2; 20 steps

Run:  python3 bench/gpu/wan_vace_fp8.py --comfyui .gpu/comfyui --out "$OUT"
"""

import argparse
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time

# ---- the model: Wan2.1-VACE-1.3B -----------------------------------------------------------
# What comfy/model_detection.py detect_unet_config() returns for the 1.3B VACE checkpoint
# (wan2.1_vace_1.3B_fp16.safetensors). Fixed by that code: image_model, patch_size, freq_dim,
# window_size, qk_norm, cross_attn_norm, eps, model_type "vace", num_heads = dim // 128.
# Read from checkpoint shapes there: dim (head.modulation), ffn_dim (blocks.0.ffn.0.weight),
# num_layers (count of blocks.N), in_dim/out_dim, vace_in_dim and vace_layers. Those numbers
# are the Wan2.1 1.3B ones (dim 1536, ffn 8960, 30 layers) and VACE's (15 vace blocks on every
# 2nd layer; vace_in_dim 96 = 16 inactive + 16 reactive latent channels + 64 mask channels,
# which is exactly what comfy/model_base.py WAN21_Vace.extra_conds builds: 32 + 64). They
# are cross-checked below against the checkpoint's byte size in docker/models.json, and the
# script round-trips the built model's state-dict shapes through ComfyUI's detect_unet_config.
DIM = 1536
UNET_CONFIG = {
    "image_model": "wan2.1",
    "dim": DIM,
    "out_dim": 16,
    "num_heads": DIM // 128,  # model_detection.py: dit_config["num_heads"] = dim // 128
    "ffn_dim": 8960,
    "num_layers": 30,
    "patch_size": (1, 2, 2),
    "freq_dim": 256,
    "window_size": (-1, -1),
    "qk_norm": True,
    "cross_attn_norm": True,
    "eps": 1e-6,
    "in_dim": 16,
    "model_type": "vace",
    "vace_in_dim": 96,
    "vace_layers": 15,
}
# docker/models.json: wan21_vace_1_3_b.safetensors (upstream wan2.1_vace_1.3B_fp16.safetensors)
CHECKPOINT_BYTES = 4309519800
# comfy/supported_models.py WAN21_T2V.supported_inference_dtypes (WAN21_Vace inherits it)
# and memory_usage_factor = dim / 2222, times 1.2 for WAN21_Vace.
MEMORY_USAGE_FACTOR = 1.2 * DIM / 2222
TEXT_LEN, TEXT_DIM = 512, 4096  # umt5-xxl context: WanModel text_len / text_dim defaults

# ---- the workloads -------------------------------------------------------------------------
PROFILES = {
    # name: (batch, latent frames incl. the reference frame, latent H, latent W, steps)
    "ci": dict(batch=1, frames=4, h=60, w=60, steps=4, note="480x480x9f, cfg 1 (uncond skipped)"),
    "full": dict(batch=2, frames=14, h=60, w=60, steps=20, note="480x480x49f, cfg 4 (cond+uncond)"),
    # Not a profile: the full shape at batch 1, to show what batching cond+uncond costs.
    "full_b1": dict(batch=1, frames=14, h=60, w=60, steps=None, note="full shape, one pass (info)"),
}

# UNETLoader weight_dtype options measured. "fp8_e4m3fn_fast+eval" is NOT something ComfyUI
# 0.3.64 does: it is the same model with .eval() called, see the note in run_mode().
MODES = ["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e4m3fn_fast+eval"]


class CountingHandler(logging.Handler):
    """Counts ComfyUI's 'Exception during fp8 op' log records (comfy/ops.py fp8_ops falls back
    to a cast + fp16 matmul silently, logging at INFO level, when torch._scaled_mm raises)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.fp8_exceptions = 0
        self.first = []

    def emit(self, record):
        msg = record.getMessage()
        if "Exception during fp8 op" in msg:
            self.fp8_exceptions += 1
            if len(self.first) < 3:
                self.first.append(msg[:300])


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001 - informational only
        return f"({e})"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--comfyui", default=os.path.join(repo, ".gpu", "comfyui"), help="ComfyUI source tree")
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(repo, "out"), help="folder for the JSON")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--profiles", default=",".join(PROFILES))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    # ComfyUI logs through the root logger; keep warnings on screen, count fp8 fallbacks.
    logging.basicConfig(level=logging.WARNING, format="[comfy %(levelname)s] %(message)s")
    counter = CountingHandler()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.INFO)
    for h in logging.getLogger().handlers:
        if h is not counter:
            h.setLevel(logging.WARNING)

    sys.path.insert(0, os.path.abspath(a.comfyui))
    t_import = time.time()
    import torch
    import comfy.model_management as mm  # parses no CLI: comfy.options.args_parsing is False
    import comfy.ops
    import comfy.ldm.wan.model as wan_model
    import comfy.ldm.modules.attention as comfy_attention
    t_import = time.time() - t_import

    dev = mm.get_torch_device()
    props = torch.cuda.get_device_properties(dev)
    env = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device_name": props.name,
        "sm": f"{props.major}.{props.minor}",
        "total_mem_GiB": round(props.total_memory / 2**30, 2),
        "comfy_device": str(dev),
        "comfy_supports_fp8_compute": bool(mm.supports_fp8_compute(dev)),
        "comfy_optimized_attention": comfy_attention.optimized_attention.__name__,
        "comfy_pytorch_attention_flash": bool(mm.pytorch_attention_flash_attention()),
        "comfy_import_s": round(t_import, 2),
        "nvidia_smi": sh("nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv"),
        "allocator_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "(unset: native caching allocator)"),
    }
    print("env:", json.dumps(env, indent=1), flush=True)

    supported = [torch.float16, torch.bfloat16, torch.float32]  # WAN21_T2V.supported_inference_dtypes

    # Shape-only copy of the model (meta device): parameter count (comfy.utils.calculate_parameters
    # counts the checkpoint's numel; comfy/sd.py hands it to unet_dtype) and the detection check.
    meta = wan_model.VaceWanModel(**UNET_CONFIG, device="meta", dtype=torch.float16,
                                  operations=comfy.ops.disable_weight_init)
    meta_sd = {k: v for k, v in meta.state_dict().items()}
    n_params = sum(v.numel() for v in meta_sd.values())
    fp32_params = sum(v.numel() for v in meta_sd.values() if v.dtype == torch.float32)
    # The repackaged checkpoint: if everything were fp16 it would hold 2*n_params bytes; the two
    # patch-embedding Conv3d weights are created fp32 by ComfyUI and may be stored fp32 too.
    arch = {
        "unet_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in UNET_CONFIG.items()},
        "params": n_params,
        "params_created_fp32_by_comfy": fp32_params,
        "tensors": len(meta_sd),
        "checkpoint_bytes": CHECKPOINT_BYTES,
        "checkpoint_minus_2x_params": CHECKPOINT_BYTES - 2 * n_params,
        "checkpoint_minus_2x_params_minus_fp32_extra": CHECKPOINT_BYTES - 2 * n_params - 2 * fp32_params,
        "vace_layers_mapping": dict(sorted(meta.vace_layers_mapping.items())),
    }
    print("arch:", json.dumps(arch), flush=True)
    del meta

    def comfy_selection(option):
        """nodes.py UNETLoader.load_unet + comfy/sd.py load_diffusion_model_state_dict +
        comfy/model_base.py BaseModel.__init__, for a checkpoint whose weights are fp16."""
        model_options = {}
        if option.startswith("fp8_e4m3fn"):
            model_options["dtype"] = torch.float8_e4m3fn
        if option.startswith("fp8_e4m3fn_fast"):
            model_options["fp8_optimizations"] = True
        dtype = model_options.get("dtype", None)
        if dtype is None:
            unet_dtype = mm.unet_dtype(model_params=n_params, supported_dtypes=supported, weight_dtype=torch.float16)
        else:
            unet_dtype = dtype
        manual_cast_dtype = mm.unet_manual_cast(unet_dtype, dev, supported)
        ops = comfy.ops.pick_operations(unet_dtype, manual_cast_dtype,
                                        fp8_optimizations=model_options.get("fp8_optimizations", False),
                                        scaled_fp8=None)
        return unet_dtype, manual_cast_dtype, ops

    def init_random_(model):
        """Fill every parameter with seeded random values. Parameter i gets the same fp32 draw in
        every mode; it is rounded to fp16 (what the checkpoint holds) and then copied into the
        parameter, which is how ComfyUI's load_state_dict turns fp16 weights into fp8 (copy_)."""
        g = torch.Generator(device=dev)
        with torch.no_grad():
            for i, (name, p) in enumerate(model.named_parameters()):
                g.manual_seed(1000 + i)
                r = torch.randn(p.shape, generator=g, device=dev, dtype=torch.float32)
                if name.endswith("modulation"):
                    r = r / math.sqrt(DIM)
                elif p.ndim >= 2:  # Linear / Conv weight: fan-in scaling keeps activations sane
                    r = r / math.sqrt(p[0].numel())
                elif name.endswith("bias"):
                    r = r * 0.01
                else:  # norm weights
                    r = 1.0 + 0.01 * r
                if p.dtype != torch.float32:
                    r = r.to(torch.float16)
                p.copy_(r)
                del r

    def make_inputs(prof, dtype):
        """Random inputs of the shapes comfy/model_base.py _apply_model hands the model: x, context
        and extra conds cast to the compute dtype, the timestep as float32."""
        g = torch.Generator(device=dev)
        g.manual_seed(7)
        b, f, h, w = prof["batch"], prof["frames"], prof["h"], prof["w"]
        x = torch.randn((b, 16, f, h, w), generator=g, device=dev, dtype=torch.float32).to(dtype)
        t = torch.full((b,), 900.0, device=dev, dtype=torch.float32)
        ctx = torch.randn((b, TEXT_LEN, TEXT_DIM), generator=g, device=dev, dtype=torch.float32).mul_(0.2).to(dtype)
        # WAN21_Vace.extra_conds: stack of [B, 32 latent + 64 mask, F, H, W] per vace input -> [B, 1, 96, F, H, W]
        vace = torch.randn((b, 1, UNET_CONFIG["vace_in_dim"], f, h, w), generator=g, device=dev,
                           dtype=torch.float32).to(dtype)
        return x, t, ctx, vace

    results = {"env": env, "arch": arch, "modes": {}, "method": {
        "warmup": a.warmup, "iters": a.iters, "timer": "CUDA events around one model call, median",
        "peak": "torch.cuda.max_memory_allocated over one call after reset_peak_memory_stats (weights included)",
        "grad": "torch.inference_mode(), as ComfyUI's execution.py",
    }}
    reference_out = {}
    modes = [m for m in a.modes.split(",") if m]
    profiles = [p for p in a.profiles.split(",") if p]

    for mode in modes:
        option = mode.split("+")[0]
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
        base_alloc = torch.cuda.memory_allocated(dev)
        unet_dtype, manual_cast_dtype, ops = comfy_selection(option)
        cfg = dict(UNET_CONFIG, dtype=unet_dtype)  # supported_models_base set_inference_dtype
        t0 = time.time()
        # BaseModel.__init__: unet_model(**unet_config, device=device, operations=operations);
        # built straight on the GPU (ComfyUI builds on the CPU, loads, then moves it).
        model = wan_model.VaceWanModel(**cfg, device=dev, operations=ops)
        init_random_(model)
        torch.cuda.synchronize()
        build_s = time.time() - t0
        # ComfyUI 0.3.64 never calls .eval() on a Wan diffusion model (only on StableCascade's),
        # and comfy/ops.py fp8_ops.Linear only tries torch._scaled_mm `if not self.training`
        # (added by commit 7be2b49b, "Fix LoRA Trainer bugs with FP8 models"). Measure it as
        # ComfyUI runs it; "+eval" shows what the _scaled_mm path itself would deliver.
        if mode.endswith("+eval"):
            model.eval()
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        weight_bytes += sum(b.numel() * b.element_size() for b in model.buffers())
        dtype_hist = {}
        for p in model.parameters():
            dtype_hist[str(p.dtype)] = dtype_hist.get(str(p.dtype), 0) + p.numel()
        alloc_weights = torch.cuda.memory_allocated(dev) - base_alloc
        compute_dtype = manual_cast_dtype if manual_cast_dtype is not None else unet_dtype
        info = {
            "unet_dtype": str(unet_dtype),
            "manual_cast_dtype": str(manual_cast_dtype),
            "compute_dtype": str(compute_dtype),
            "ops": ops.__name__,
            "training_flag": model.training,
            "param_dtypes": dtype_hist,
            "weight_bytes": weight_bytes,
            "weight_GiB": round(weight_bytes / 2**30, 3),
            "allocated_after_build_GiB": round(alloc_weights / 2**30, 3),
            "build_s": round(build_s, 2),
            "profiles": {},
        }
        print(f"\n== {mode}: weights {unet_dtype} ({weight_bytes/2**30:.3f} GiB), compute {compute_dtype}, "
              f"ops {ops.__name__}, training={model.training}, built in {build_s:.1f}s", flush=True)

        for pname in profiles:
            prof = PROFILES[pname]
            x, t, ctx, vace = make_inputs(prof, compute_dtype)

            def fwd():
                # BaseModel._apply_model -> self.diffusion_model(xc, t, context=..., control=...,
                # transformer_options=..., **extra_conds); WAN21_Vace extra conds: vace_context,
                # vace_strength (one 1.0 per vace input).
                return model(x, t, context=ctx, control=None, transformer_options={},
                             vace_context=vace, vace_strength=[1.0]).float()

            rec = {"shape_x": list(x.shape), "tokens_per_sample": prof["frames"] * (prof["h"] // 2) * (prof["w"] // 2),
                   "batch": prof["batch"], "note": prof["note"]}
            try:
                with torch.inference_mode():
                    # Untimed instrumented call: how many Linear layers really ran torch._scaled_mm.
                    calls = {"n": 0}
                    real_scaled_mm = torch._scaled_mm

                    def counting_scaled_mm(*args, **kwargs):
                        calls["n"] += 1
                        return real_scaled_mm(*args, **kwargs)

                    exc_before = counter.fp8_exceptions
                    torch._scaled_mm = counting_scaled_mm
                    try:
                        out = fwd()
                    finally:
                        torch._scaled_mm = real_scaled_mm
                    torch.cuda.synchronize()
                    rec["scaled_mm_calls_per_forward"] = calls["n"]
                    rec["fp8_op_exceptions_per_forward"] = counter.fp8_exceptions - exc_before
                    rec["output_finite"] = bool(torch.isfinite(out).all().item())
                    rec["output_shape"] = list(out.shape)
                    if mode == "default":
                        reference_out[pname] = out.detach().clone()
                    elif pname in reference_out:
                        ref = reference_out[pname]
                        rec["rel_diff_vs_fp16_random_weights"] = float((out - ref).norm() / ref.norm())
                    del out

                    for _ in range(a.warmup):
                        fwd()
                    torch.cuda.synchronize()
                    times = []
                    for _ in range(a.iters):
                        s = torch.cuda.Event(enable_timing=True)
                        e = torch.cuda.Event(enable_timing=True)
                        s.record()
                        o = fwd()
                        e.record()
                        torch.cuda.synchronize()
                        times.append(s.elapsed_time(e))
                        del o
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats(dev)
                    before = torch.cuda.memory_allocated(dev)
                    o = fwd()
                    torch.cuda.synchronize()
                    peak = torch.cuda.max_memory_allocated(dev)
                    del o
                rec.update({
                    "median_ms": round(statistics.median(times), 2),
                    "min_ms": round(min(times), 2),
                    "max_ms": round(max(times), 2),
                    "times_ms": [round(v, 2) for v in times],
                    "peak_allocated_GiB": round(peak / 2**30, 3),
                    "peak_minus_resident_GiB": round((peak - before) / 2**30, 3),
                    "peak_reserved_GiB": round(torch.cuda.max_memory_reserved(dev) / 2**30, 3),
                    # comfy/model_base.py memory_required() with PyTorch flash attention:
                    # batch * prod(latent dims) * dtype_size * 0.01 * memory_usage_factor MiB
                    "comfy_memory_required_estimate_GiB": round(
                        prof["batch"] * prof["frames"] * prof["h"] * prof["w"] * 2 * 0.01 * MEMORY_USAGE_FACTOR / 1024, 3),
                })
                print(f"   {pname:8s} x={rec['shape_x']} median {rec['median_ms']:.2f} ms "
                      f"(min {rec['min_ms']:.2f}, max {rec['max_ms']:.2f}), peak {rec['peak_allocated_GiB']:.3f} GiB, "
                      f"_scaled_mm calls {rec['scaled_mm_calls_per_forward']}, fp8 exceptions "
                      f"{rec['fp8_op_exceptions_per_forward']}, finite {rec['output_finite']}"
                      + (f", rel diff vs fp16 {rec['rel_diff_vs_fp16_random_weights']:.4f}"
                         if "rel_diff_vs_fp16_random_weights" in rec else ""), flush=True)
            except Exception as e:  # noqa: BLE001 - record and carry on with the next case
                rec["error"] = f"{type(e).__name__}: {e}"[:2000]
                print(f"   {pname}: ERROR {rec['error']}", flush=True)
            info["profiles"][pname] = rec
            del x, t, ctx, vace
        results["modes"][mode] = info
        del model, ops
        torch.cuda.empty_cache()
        with open(os.path.join(a.out, "wan_vace_fp8.json"), "w") as fh:
            json.dump(results, fh, indent=1)

    if counter.first:
        results["fp8_exception_examples"] = counter.first

    # ---- ComfyUI's own detection, round-tripped on the built model's state-dict shapes -------
    # Imports comfy.model_detection -> comfy.supported_models -> comfy.model_base (and all of
    # ComfyUI's model and text-encoder modules), so it runs last and may fail on this image.
    try:
        import comfy.model_detection as md
        det = md.detect_unet_config(meta_sd, "")
        mc = md.model_config_from_unet_config(det, meta_sd)
        want = {k: (list(v) if isinstance(v, tuple) else v) for k, v in UNET_CONFIG.items()}
        got = {k: (list(v) if isinstance(v, tuple) else v) for k, v in det.items()}
        results["detection"] = {
            "detected": got,
            "matches_unet_config": all(got.get(k) == v for k, v in want.items()),
            "supported_model": type(mc).__name__ if mc is not None else None,
            "memory_usage_factor": getattr(mc, "memory_usage_factor", None),
        }
    except Exception as e:  # noqa: BLE001
        results["detection"] = {"error": f"{type(e).__name__}: {e}"[:1000]}
    print("\ndetection:", json.dumps(results["detection"]), flush=True)

    # ---- summary ------------------------------------------------------------------------------
    summ = []
    for mode, info in results["modes"].items():
        row = {"mode": mode, "weight_GiB": info["weight_GiB"]}
        for pname in profiles:
            r = info["profiles"].get(pname, {})
            row[pname] = r
        est = {}
        if "median_ms" in row.get("ci", {}) and "median_ms" in row.get("full", {}):
            est["ci_s"] = PROFILES["ci"]["steps"] * row["ci"]["median_ms"] / 1000
            est["full_s"] = PROFILES["full"]["steps"] * row["full"]["median_ms"] / 1000
            est["ratio_full_over_ci"] = est["full_s"] / est["ci_s"]
        info["sampling_estimate"] = est
        row["est"] = est
        summ.append(row)
    with open(os.path.join(a.out, "wan_vace_fp8.json"), "w") as fh:
        json.dump(results, fh, indent=1)

    def cell(r, key, fmt):
        return fmt.format(r[key]) if key in r else ("ERR" if "error" in r else "-")

    print(f"\n### Wan2.1-VACE-1.3B denoiser, RANDOM weights, {env['device_name']}, torch {env['torch']}\n")
    print("| UNETLoader weight_dtype | weights GiB | ci fwd ms (B1,4f) | ci peak GiB | full fwd ms (B2,14f) | "
          "full peak GiB | full B1 fwd ms | _scaled_mm/fwd | ci sampling s (4 steps) | full sampling s (20 steps) | full/ci |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in summ:
        ci, fu, fb = row.get("ci", {}), row.get("full", {}), row.get("full_b1", {})
        est = row["est"]
        print(f"| {row['mode']} | {row['weight_GiB']:.3f} | {cell(ci, 'median_ms', '{:.1f}')} | "
              f"{cell(ci, 'peak_allocated_GiB', '{:.2f}')} | {cell(fu, 'median_ms', '{:.1f}')} | "
              f"{cell(fu, 'peak_allocated_GiB', '{:.2f}')} | {cell(fb, 'median_ms', '{:.1f}')} | "
              f"{cell(ci, 'scaled_mm_calls_per_forward', '{}')} | "
              f"{est.get('ci_s', float('nan')):.2f} | {est.get('full_s', float('nan')):.2f} | "
              f"{est.get('ratio_full_over_ci', float('nan')):.1f} |")
    print(f"\nJSON: {os.path.join(a.out, 'wan_vace_fp8.json')}")


if __name__ == "__main__":
    main()
