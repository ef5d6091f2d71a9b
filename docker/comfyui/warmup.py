#!/usr/bin/env python3
"""Warms ComfyUI's models right after it starts (docs/cold-start.md).

ComfyUI reads model files only when a prompt first needs them. This runs one tiny VACE prompt on
loopback with the deployed workflow's three loaders and model files: the loaders read their files
and the sampler moves the diffusion model onto the GPU, so the first real prompt finds them loaded
(ComfyUI keeps a loader's output cached while its inputs do not change) and the page cache warm.
Prints one JSON object {ok, seconds, promptId, error?}; exit 0 when the prompt succeeded.
ECS runs it from boot_timeline.py with `docker exec`. Stdlib only.
"""
import json
import os
import sys
import time
import urllib.request

E = os.environ.get
COMFY = E("WAN_VACE_COMFYUI_URL", "http://127.0.0.1:8188")
POLL = float(E("WAN_VACE_WARMUP_POLL_S", "1"))

# The warm-up prompt: the deployed workflow's loaders with its model files, 16x16, one frame, one step.
WARM = {
    "1": ("UNETLoader", {"unet_name": "wan21_vace_1_3_b.safetensors", "weight_dtype": "fp8_e4m3fn_fast"}),
    "2": ("CLIPLoader", {"clip_name": "umt5_xxl_fp8_e4m3fn.safetensors", "type": "wan", "device": "default"}),
    "3": ("VAELoader", {"vae_name": "wan21_vace_vae.safetensors"}),
    "4": ("CLIPTextEncode", {"text": "warm-up", "clip": ["2", 0]}),
    "5": ("WanVaceToVideo", {"width": 16, "height": 16, "length": 1, "batch_size": 1, "strength": 1.0,
                             "positive": ["4", 0], "negative": ["4", 0], "vae": ["3", 0]}),
    "6": ("ModelSamplingSD3", {"shift": 8.0, "model": ["1", 0]}),
    "7": ("KSampler", {"seed": 0, "steps": 1, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                       "denoise": 1.0, "model": ["6", 0], "positive": ["5", 0], "negative": ["5", 1],
                       "latent_image": ["5", 2]}),
    "8": ("TrimVideoLatent", {"trim_amount": ["5", 3], "samples": ["7", 0]}),
    "9": ("VAEDecode", {"samples": ["8", 0], "vae": ["3", 0]}),
    "10": ("VHS_VideoCombine", {"frame_rate": 16, "loop_count": 0, "filename_prefix": "wan-vace-warmup",
                                "format": "video/h264-mp4", "pix_fmt": "yuv420p", "crf": 19,
                                "save_metadata": False, "trim_to_audio": False, "pingpong": False,
                                "save_output": False, "images": ["9", 0]}),
}


def http(url, body=None):
    """(status, parsed JSON or None); (0, None) when nothing answers."""
    req = urllib.request.Request(url, data=body and json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (OSError, ValueError):
        return 0, None


def warm_up(wait_s):
    """Runs WARM; returns what boot_timeline.py records with its "models" phase."""
    t0 = time.time()
    prompt = {k: {"class_type": c, "inputs": i} for k, (c, i) in WARM.items()}
    status, body = http(COMFY + "/prompt", {"prompt": prompt, "client_id": "wan-vace-warmup"})
    if status != 200 or not body or "prompt_id" not in body:
        return {"ok": False, "error": f"POST /prompt answered {status}: {json.dumps(body)[:300]}"}
    pid = body["prompt_id"]
    while time.time() - t0 < wait_s:
        entry = (http(f"{COMFY}/history/{pid}")[1] or {}).get(pid)
        if entry and (entry.get("status") or {}).get("completed") is not None:
            st = entry["status"]
            done = {"ok": st.get("status_str") == "success", "seconds": round(time.time() - t0, 3), "promptId": pid}
            errors = [m[1] for m in st.get("messages", []) if m[0] == "execution_error"]
            return done | ({"error": errors[0].get("exception_message", "")[:300]} if errors else {})
        time.sleep(POLL)
    return {"ok": False, "error": f"no result within {wait_s:.0f} s", "promptId": pid}


if __name__ == "__main__":
    result = warm_up(float(E("WAN_VACE_WARMUP_S", "1800")))
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
