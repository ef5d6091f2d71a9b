#!/usr/bin/env python3
"""FP8 weights on disk vs FP16 cast at load (issue 13's GPU check), with ComfyUI's own loading code.

For the Wan2.1-VACE-1.3B diffusion model with RANDOM weights (names, shapes and dtypes from
model_files.py, checked there against ComfyUI's classes), this compares, each in a fresh process:
  fp16-file+fp8_fast  the fp16 file loaded with UNETLoader weight_dtype fp8_e4m3fn_fast (today's image)
  fp8-file+fp8_fast   an fp8-stored file loaded the same way (issue 13's image)
  fp8-file+default    the fp8 file with weight_dtype default: what ComfyUI picks on its own (info)
and measures load time (comfy.sd.load_diffusion_model: file read + model build + state dict load;
then comfy.model_management.load_models_gpu), peak GPU memory (torch.cuda.max_memory_allocated) and
peak process RSS. Each run then samples 4 steps from the same seed; the fp16-cast and fp8-stored
latents must be BIT-IDENTICAL, since casting at load and casting at build use the same rounding.

The fp8 file is made by the image build's converter (issue 13: `vace models fp8`'s convertFile,
cli/models/convert.ts), bundled for node by `comfyui_smoke.py prep tools` (fp8-convert.cjs.xz, with
node.xz), or taken from --fp8-file. The same file is also converted here with torch: every tensor
that ComfyUI builds in fp8 when weight_dtype is fp8 (VaceWanModel built on the meta device with that
dtype) becomes .to(float8_e4m3fn), the rest (the float32 patch embeddings) keeps the file's dtype;
the run records whether the converter's tensors are byte-for-byte torch's. Without the converter
carried, the torch-converted file is the one measured (the run says so).

The sampler: comfy.sample.sample (uni_pc, simple) when its imports work (it needs torchsde);
otherwise an Euler loop written here over BaseModel.apply_model with comfy/samplers.py's
simple_scheduler sigmas and comfy/sample.py's prepare_noise (the run records which). The text
context and the VACE context are seeded random tensors of the shapes the workflow produces (ci
profile: 480x480, 9 frames -> 4 latent frames with the reference, cfg 1).

  python3 bench/gpu/fp8_load.py --dry                    inputs and plan, no GPU (exit 1 if one is missing)
  python3 bench/gpu/fp8_load.py --out DIR [--fp8-file F] about 2-3 minutes on an H100/H200
Page cache: each load first asks the kernel to drop the file's cached pages (posix_fadvise
DONTNEED). Whether the call succeeded is recorded; the kernel may still keep pages (e.g. under gVisor),
so a load faster than the disk allows means a warm cache.
"""

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time

import carry
import model_files
from wan_vace_fp8 import UNET_CONFIG

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODES = {
    "fp16-file+fp8_fast": ("fp16", "fp8_e4m3fn_fast"),
    "fp8-file+fp8_fast": ("fp8", "fp8_e4m3fn_fast"),
    "fp8-file+default": ("fp8", "default"),
}
SEED, STEPS, LATENT = 1, 4, [1, 16, 4, 60, 60]  # ci profile: 3 latent frames + 1 reference, 480/8


def comfy_tree(a):
    """A ComfyUI tree at the pinned commit: --comfyui, else the carried tarball verified and unpacked."""
    if a.comfyui:
        return a.comfyui, "given"
    path = os.path.join(a.carry, "comfyui.tar.gz")
    entry = carry.read_manifest(a.carry)["sources"]["comfyui"]
    problems = carry.verify(path, entry, carry.PINS["comfyui"]["commit"])
    if problems:
        raise RuntimeError("; ".join(problems))
    dest = os.path.join(a.work, "ComfyUI")
    if not os.path.exists(os.path.join(dest, "main.py")):
        carry.extract(path, dest)
    return dest, f"carried, verified at {carry.PINS['comfyui']['commit']}"


def dry(a):
    checks = []
    if a.comfyui:
        ok = os.path.exists(os.path.join(a.comfyui, "comfy", "sd.py"))
        checks.append({"check": "ComfyUI tree", "ok": ok,
                       "detail": a.comfyui if ok else f"{a.comfyui} has no comfy/sd.py"})
    else:
        path = os.path.join(a.carry, "comfyui.tar.gz")
        if not os.path.exists(path):
            checks.append({"check": "ComfyUI tree", "ok": False,
                           "detail": f"no --comfyui and no {path}: pack it with `python3 bench/gpu/comfyui_smoke.py "
                                     "prep sources --git comfyui=<git dir>`, or pass --comfyui DIR"})
        else:
            entry = carry.read_manifest(a.carry).get("sources", {}).get("comfyui", {}) if os.path.exists(
                os.path.join(a.carry, "manifest.json")) else {}
            problems = carry.verify(path, entry, carry.PINS["comfyui"]["commit"])
            checks.append({"check": "ComfyUI tree", "ok": not problems, "detail": "; ".join(problems) or path})
    spec = model_files.diffusion_formula()
    checks.append({"check": "diffusion model spec", "ok": True,
                   "detail": f"{len(spec)} tensors, {model_files.data_bytes(spec)} bytes as fp16 (+fp32 patch embeddings)"})
    if a.fp8_file:
        ok = os.path.exists(a.fp8_file)
        checks.append({"check": "fp8 file", "ok": ok, "detail": a.fp8_file if ok else f"{a.fp8_file} does not exist"})
    elif converter_files(a.carry):
        checks.append({"check": "fp8 file", "ok": True, "detail": "made on the GPU machine by the image build's "
                       "converter (carried fp8-convert.cjs.xz + node.xz), and compared with torch's cast"})
    else:
        checks.append({"check": "fp8 file", "ok": True, "detail": "the image build's converter is not carried "
                       "(`comfyui_smoke.py prep tools` adds it): converted on the GPU with torch"})
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "modes": MODES,
            "sampling": {"seed": SEED, "steps": STEPS, "latent": LATENT, "cfg": 1.0}}


def converter_files(carry_dir):
    """(node.xz, fp8-convert.cjs.xz) when both are carried and match the manifest, else None."""
    path = os.path.join(carry_dir, "manifest.json")
    if not os.path.exists(path):
        return None
    manifest = carry.read_manifest(carry_dir)
    node, conv = manifest.get("tools", {}).get("node"), manifest.get("fp8_convert")
    if not node or not conv:
        return None
    files = (os.path.join(carry_dir, node["file"]), os.path.join(carry_dir, conv["file"]))
    if all(os.path.exists(f) and carry.sha256_file(f) == e["sha256"] for f, e in zip(files, (node, conv))):
        return files
    return None


def drop_cache(path):
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return True
    except (OSError, AttributeError):
        return False


def make_files(a, comfy_root):
    """The fp16 file (random) and the fp8 file (given, or converted here). Runs in the parent."""
    import torch
    sys.path.insert(0, comfy_root)
    import comfy.ldm.wan.model as wan_model
    import comfy.ops
    from safetensors.torch import load_file, save_file

    names = {"F16": torch.float16, "F32": torch.float32}
    spec = [(n, s, names[d]) for n, s, d in model_files.diffusion_formula()]
    fp16 = os.path.join(a.work, "fp16.safetensors")
    if not os.path.exists(fp16):
        model_files.write_random(torch, spec, fp16, 1000)
    meta = wan_model.VaceWanModel(**UNET_CONFIG, device="meta", dtype=torch.float8_e4m3fn,
                                  operations=comfy.ops.manual_cast)
    in_fp8 = {k for k, v in meta.state_dict().items() if v.dtype == torch.float8_e4m3fn}
    sd = load_file(fp16)
    by_torch = os.path.join(a.work, "fp8-torch.safetensors")
    save_file({k: (v.to(torch.float8_e4m3fn) if k in in_fp8 else v) for k, v in sd.items()}, by_torch)
    how = {"torch": f".to(float8_e4m3fn) of the tensors ComfyUI builds in fp8; kept as stored: "
                    f"{sorted(k for k in sd if k not in in_fp8)}"}
    fp8, tools = a.fp8_file, converter_files(a.carry)
    if not fp8 and tools:
        bin_dir = os.path.join(a.work, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        node = carry.unxz(tools[0], os.path.join(bin_dir, "node"), 0o755)
        script = carry.unxz(tools[1], os.path.join(bin_dir, "fp8-convert.cjs"))
        fp8 = os.path.join(a.work, "fp8-converter.safetensors")
        t0 = time.perf_counter()
        r = subprocess.run([node, script, fp16, fp8], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"fp8-convert exited {r.returncode}: {r.stderr[-2000:]}")
        how["converter"] = dict(json.loads(r.stdout), seconds=round(time.perf_counter() - t0, 1))
    if fp8:
        # Byte equality, tensor by tensor, of the converter's file and torch's cast.
        theirs = load_file(fp8)
        mine = load_file(by_torch)
        differ = [k for k in sorted(mine) if k not in theirs or mine[k].dtype != theirs[k].dtype
                  or not torch.equal(mine[k].view(torch.uint8), theirs[k].view(torch.uint8))]
        how["converter_equals_torch"] = {"equal": not differ and set(theirs) == set(mine), "differ": differ[:20]}
        how["measured"] = "the converter's file" if not a.fp8_file else f"--fp8-file {a.fp8_file}"
        return fp16, fp8, how
    how["measured"] = "torch's file: the image build's converter was not carried"
    return fp16, by_torch, how


def child(a, mode, comfy_root, path):
    """One load + sample in this (fresh) process; prints one JSON line."""
    import torch
    sys.path.insert(0, comfy_root)
    import comfy.model_management as mm
    import comfy.sd

    option = MODES[mode][1]
    model_options = {}
    if option.startswith("fp8_e4m3fn"):  # nodes.py UNETLoader.load_unet
        model_options["dtype"] = torch.float8_e4m3fn
    if option == "fp8_e4m3fn_fast":
        model_options["fp8_optimizations"] = True
    cache_dropped = drop_cache(path)
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    patcher = comfy.sd.load_diffusion_model(path, model_options=model_options)
    t1 = time.perf_counter()
    mm.load_models_gpu([patcher])
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    model = patcher.model
    load_peak = torch.cuda.max_memory_allocated()

    latent = torch.zeros(LATENT)
    g = torch.Generator().manual_seed(7)
    ctx = torch.randn([1, 512, 4096], generator=g) * 0.2
    vace = torch.randn([1, 1, 96] + LATENT[2:], generator=g)
    try:
        import comfy.sample  # needs torchsde (comfy/k_diffusion/sampling.py)
        why = None
    except ImportError as e:
        why = str(e)
    if why is None:
        noise = comfy.sample.prepare_noise(latent, SEED)
        positive = [[ctx, {"vace_frames": [vace[:, 0, :32]], "vace_mask": [vace[:, 0, 32:]], "vace_strength": [1.0]}]]
        t3 = time.perf_counter()
        out = comfy.sample.sample(patcher, noise, STEPS, 1.0, "uni_pc", "simple", positive, positive, latent, seed=SEED,
                                  disable_pbar=True)
        sampler = "comfy.sample.sample uni_pc/simple"
    else:
        sampler = f"Euler loop here (comfy.sample import failed: {why})"
        ms = model.model_sampling
        ss = len(ms.sigmas) / STEPS
        sigmas = [float(ms.sigmas[-(1 + int(x * ss))]) for x in range(STEPS)] + [0.0]
        gen = torch.manual_seed(SEED)
        noise = torch.randn(latent.size(), generator=gen, device="cpu")
        dev = mm.get_torch_device()
        x = ms.noise_scaling(torch.tensor([sigmas[0]]), noise, latent).to(dev)
        t3 = time.perf_counter()
        with torch.inference_mode():
            for i in range(STEPS):
                s = torch.tensor([sigmas[i]], device=dev)
                denoised = model.apply_model(x, s, c_crossattn=ctx.to(dev), vace_context=vace.to(dev), vace_strength=[1.0])
                x = x + (x - denoised) / s * (sigmas[i + 1] - sigmas[i])
        out = ms.inverse_noise_scaling(torch.tensor([0.0]), x).cpu()
    torch.cuda.synchronize()
    t4 = time.perf_counter()
    out = out.float().contiguous()
    torch.save(out, os.path.join(a.work, f"latent-{mode}.pt"))
    print(json.dumps({
        "mode": mode, "file": os.path.basename(path), "file_bytes": os.path.getsize(path), "cache_dropped": cache_dropped,
        "unet_dtype": str(getattr(model.diffusion_model, "dtype", None)), "manual_cast_dtype": str(model.manual_cast_dtype),
        "load_file_build_s": round(t1 - t0, 3), "to_gpu_s": round(t2 - t1, 3), "load_total_s": round(t2 - t0, 3),
        "peak_gpu_alloc_after_load_GiB": round(load_peak / 2**30, 3),
        "peak_gpu_alloc_GiB": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "peak_rss_GiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "sampler": sampler, "sample_s": round(t4 - t3, 3),
        "latent_sha256": hashlib.sha256(out.numpy().tobytes()).hexdigest(), "latent_finite": bool(torch.isfinite(out).all()),
    }), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry", action="store_true", help="check inputs and print the plan; no GPU")
    ap.add_argument("--comfyui", help="ComfyUI tree at the pinned commit (default: the carried tarball)")
    ap.add_argument("--carry", default=os.path.join(REPO, ".gpu", "carry"))
    ap.add_argument("--work", default="/tmp/vace-fp8-load")
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(REPO, "out", "fp8-load"))
    ap.add_argument("--fp8-file", help="an fp8 file made by the image build's converter")
    ap.add_argument("--child", choices=list(MODES), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dry:
        report = dry(a)
        print(json.dumps(report, indent=1))
        return 0 if report["ok"] else 1
    os.makedirs(a.work, exist_ok=True)
    comfy_root, origin = comfy_tree(a)
    if a.child:
        child(a, a.child, comfy_root, a.path)
        return 0
    os.makedirs(a.out, exist_ok=True)
    fp16, fp8, how = make_files(a, comfy_root)
    files = {"fp16": fp16, "fp8": fp8}
    result = {"comfyui": origin, "fp8_file": how, "runs": []}
    for mode, (kind, _) in list(MODES.items()) + [("fp16-file+fp8_fast", MODES["fp16-file+fp8_fast"])]:
        r = subprocess.run([sys.executable, __file__, "--child", mode, "--path", files[kind], "--work", a.work,
                            "--carry", a.carry] + (["--comfyui", a.comfyui] if a.comfyui else []),
                           capture_output=True, text=True, timeout=300)
        line = [x for x in r.stdout.splitlines() if x.startswith("{")]
        run = json.loads(line[-1]) if line else {"mode": mode, "error": r.stderr[-3000:]}
        result["runs"].append(run)
        print(json.dumps(run), flush=True)
    by = {}
    for run in result["runs"]:
        by.setdefault(run["mode"], run)
    a16, a8 = by["fp16-file+fp8_fast"], by["fp8-file+fp8_fast"]
    result["bit_identical_fp16_cast_vs_fp8_stored"] = (
        "latent_sha256" in a16 and a16.get("latent_sha256") == a8.get("latent_sha256"))
    repeat = [r for r in result["runs"] if r["mode"] == "fp16-file+fp8_fast"]
    result["repeat_run_identical"] = len(repeat) == 2 and repeat[0].get("latent_sha256") == repeat[1].get("latent_sha256")
    with open(os.path.join(a.out, "fp8_load.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0 if result["bit_identical_fp16_cast_vs_fp8_stored"] else 1


if __name__ == "__main__":
    sys.exit(main())
