#!/usr/bin/env python3
"""The smoke against the real ComfyUI (issue 15): the pinned server, real nodes, random-weight models.

On a GPU machine with no internet this sets up ComfyUI 0.3.64 + KJNodes + VideoHelperSuite from
sources carried in at the commits pinned in docker/comfyui/Dockerfile, writes the workflow's three
model files with random weights (model_files.py), starts ComfyUI on loopback and the real token
gateway (docker/gateway/run, Caddy) in front of it, runs `vace smoke --profile ci|full --content skip`
through the gateway and `vace verify` on both videos, and collects the evidence in one flat folder.

  prep sources --git comfyui=DIR --git kjnodes=DIR --git vhs=DIR   (here: pack the pinned trees)
  prep tools [--node PATH] [--caddy PATH] [--ffmpeg PATH] [--wheels DIR]   (here: bundle vace, binaries)
  dry  [--carry DIR]      check everything checkable without a GPU; prints one JSON report
  run  [--carry DIR] --out DIR [--work DIR]   the GPU run (runs the dry checks first)

The carry folder (default .gpu/carry, git-ignored) never holds anything committed: fetched code
stays out of the repository. Exit codes: 0 ok, 1 a check or step failed, 2 usage.
Random weights make noise, so content checks are off (`--content skip`) and the reports say so.
"""

import argparse
import json
import lzma
import os
import py_compile
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import carry
import model_files

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CARRY = os.path.join(REPO, ".gpu", "carry")
COMFY_PORT = 8188  # the image's (docker/comfyui/entrypoint.sh)
GATEWAY_LISTEN = "127.0.0.1:18080"
DEVICE_CARRY_LIMIT = 64 << 20  # what travels to the lent GPU machine per call, working tree included
# What each smoke may take here; their own --timeout defaults are for a cold cloud start. The whole run
# must end inside one device call (600 s): ci includes the first load of the ~11 GB of models.
SMOKE_TIMEOUT_S = {"ci": 240, "full": 300}
# Modules that ComfyUI (requirements.txt), KJNodes and VHS import at module level while starting and
# loading the workflow's nodes, with the pip name to carry as a wheel when the GPU image lacks one.
# torchsde: comfy/k_diffusion/sampling.py (KSampler), trampoline is its dependency; av: comfy_api/latest
# (the V3 nodes WanVaceToVideo, TrimVideoLatent) and videohelpersuite/server.py. KJNodes' color-matcher,
# mss and matplotlib are imported inside nodes the workflow does not use, and app/database/db.py only
# warns without alembic/SQLAlchemy, so those are not required.
REQUIRED_IMPORTS = {
    "torch": "torch", "torchvision": "torchvision", "torchaudio": "torchaudio", "torchsde": "torchsde",
    "trampoline": "trampoline", "einops": "einops", "transformers": "transformers", "tokenizers": "tokenizers",
    "sentencepiece": "sentencepiece", "safetensors": "safetensors", "aiohttp": "aiohttp", "yarl": "yarl",
    "yaml": "pyyaml", "PIL": "pillow", "scipy": "scipy", "tqdm": "tqdm", "psutil": "psutil", "av": "av",
    "numpy": "numpy", "cv2": "opencv-python",
}
TOOLS = {  # carried binaries: file in the carry folder (xz), and what needs it
    "node": "node 22 (>= 22.12) for the vace CLI bundle",
    "caddy": "Caddy 2.6+ for docker/gateway/run",
    "ffmpeg": "ffmpeg with libx264 for VHS_VideoCombine (optional if the GPU machine has one on PATH)",
}


# ---- plan ----------------------------------------------------------------------------------
def workflow():
    with open(os.path.join(REPO, "workflows", "vace-r2v.json")) as fh:
        return json.load(fh)


def workflow_classes():
    return sorted({n["class_type"] for n in workflow().values()})


def plan(carry_dir, out, work):
    """Every step of the GPU run, with its exact command line. The token only ever travels in the
    environment (VACE_TOKEN), never in an argument."""
    node = [os.path.join(work, "bin", "node"), os.path.join(work, "bin", "vace.cjs")]
    url = f"http://{GATEWAY_LISTEN}"
    steps = [
        {"step": "preflight", "what": "CUDA GPU, Python imports " + ", ".join(sorted(REQUIRED_IMPORTS))},
        {"step": "sources", "what": "verify each tarball against its pinned commit, unpack into " + work},
        {"step": "models", "what": "write the three model files with random weights; check names, shapes and "
                                   "dtypes against ComfyUI's classes; convert to the image's stored form: "
                                   + (", ".join(f"{f} {v['dtype']}" for f, v in stored_forms().items()) or "none")},
        {"step": "comfyui", "cmd": [sys.executable, "main.py", "--disable-auto-launch", "--extra-model-paths-config",
                                     os.path.join(work, "extra_model_paths.yaml"), "--front-end-root",
                                     os.path.join(work, "no-frontend"), "--listen", "127.0.0.1", "--port",
                                     str(COMFY_PORT)], "cwd": os.path.join(work, "ComfyUI")},
        {"step": "gateway", "cmd": [os.path.join(REPO, "docker", "gateway", "run")],
         "env": {"VACE_TOKEN": "(32 random bytes, hex)", "VACE_UPSTREAM": f"127.0.0.1:{COMFY_PORT}",
                 "VACE_LISTEN": GATEWAY_LISTEN, "VACE_TLS": "off"}},
    ]
    frames = {"ci": 9, "full": 49}
    for profile in ("ci", "full"):
        steps.append({"step": f"smoke-{profile}", "cmd": node + [
            "smoke", "--url", url, "--profile", profile, "--content", "skip", "--out",
            os.path.join(work, f"smoke-{profile}"), "--timeout", str(SMOKE_TIMEOUT_S[profile])],
            "env": {"VACE_TOKEN": "(the gateway's)"}})
    for profile in ("ci", "full"):
        steps.append({"step": f"verify-{profile}", "cmd": node + [
            "verify", f"(smoke-{profile} report.json video.file)", "--width", "480", "--height", "480",
            "--frames", str(frames[profile]), "--fps", "16", "--content", "skip"]})
    steps.append({"step": "object_info", "what": "GET /object_info/<class> through the gateway for "
                                                 + ", ".join(workflow_classes())})
    steps.append({"step": "collect", "what": f"report-ci.json, report-full.json, the two videos, comfyui.log, "
                                             f"object_info.json, run.json (timings, versions, verify) in {out}"})
    return steps


# ---- checks (dry) --------------------------------------------------------------------------
def check(name, fn):
    try:
        detail = fn()
        return {"check": name, "ok": True, "detail": detail}
    except Exception as e:  # noqa: BLE001 - every problem is reported, none stops the others
        return {"check": name, "ok": False, "detail": str(e)}


def check_syntax():
    files = sorted(f for f in os.listdir(HERE) if f.endswith(".py"))
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            py_compile.compile(os.path.join(HERE, f), cfile=os.path.join(tmp, f + "c"), doraise=True)
    return f"{len(files)} files compile: {', '.join(files)}"


def dockerfile_pins():
    with open(os.path.join(REPO, "docker", "comfyui", "Dockerfile")) as fh:
        text = fh.read()
    return {name: re.search(rf"^ARG {arg}_COMMIT=([0-9a-f]{{40}})$", text, re.M).group(1)
            for name, arg in (("comfyui", "COMFYUI"), ("kjnodes", "KJNODES"), ("vhs", "VHS"))}


def check_pins():
    got = dockerfile_pins()
    differ = [f"{n}: script {carry.PINS[n]['commit']}, Dockerfile {c}" for n, c in got.items() if carry.PINS[n]["commit"] != c]
    if differ:
        raise ValueError("pins differ from docker/comfyui/Dockerfile: " + "; ".join(differ))
    return {n: c for n, c in got.items()}


def check_workflow_models():
    wf, files = workflow(), model_files.models_manifest()
    used = {"UNETLoader": ("unet_name", "diffusion_models"), "CLIPLoader": ("clip_name", "text_encoders"),
            "VAELoader": ("vae_name", "vae")}
    out = {}
    for node in wf.values():
        if node["class_type"] in used:
            key, folder = used[node["class_type"]]
            if node["inputs"][key] != files[folder]["name"]:
                raise ValueError(f"{node['class_type']}.{key} is {node['inputs'][key]}, docker/models.json has "
                                 f"{files[folder]['name']} in {folder}")
            out[folder] = node["inputs"][key]
    if len(out) != 3:
        raise ValueError(f"the workflow loads {sorted(out)}, expected diffusion_models, text_encoders and vae")
    return out


def check_specs():
    rows = model_files.reconcile()
    bad = [r["detail"] for r in rows if not r["ok"]]
    if bad:
        raise ValueError("; ".join(bad))
    return {r["file"]: r["detail"] for r in rows}


def check_tokenizer():
    proto = model_files.spiece_proto()
    # Count the top-level field-1 (pieces) records without a protobuf library.
    pos, pieces = 0, 0
    while pos < len(proto):
        key, pos = _read_varint(proto, pos)
        length, pos = _read_varint(proto, pos)
        pos += length
        pieces += (key >> 3) == 1
    if pieces != model_files.UMT5["vocab_size"]:
        raise ValueError(f"the SentencePiece model has {pieces} pieces, umT5 needs {model_files.UMT5['vocab_size']}")
    return f"SentencePiece unigram model, {pieces} pieces, {len(proto)} bytes (pad 0, eos 1, unk 2, byte fallback)"


def _read_varint(b, pos):
    n = shift = 0
    while True:
        byte = b[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, pos


def check_gateway():
    """The gateway config this run uses, adapted by the real Caddy here (docker/gateway/run adapt)."""
    if not shutil.which("caddy"):
        raise RuntimeError("caddy is not on PATH: install it with `sudo apt-get install -y caddy` to check "
                           "the gateway configuration")
    env = dict(os.environ, VACE_TOKEN=secrets.token_hex(32), VACE_UPSTREAM=f"127.0.0.1:{COMFY_PORT}",
               VACE_LISTEN=GATEWAY_LISTEN, VACE_TLS="off")
    r = subprocess.run([os.path.join(REPO, "docker", "gateway", "run"), "adapt"], env=env, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"docker/gateway/run adapt failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    config = json.loads(r.stdout)
    listen = config["apps"]["http"]["servers"]
    return f"Caddy adapted the gateway config; servers listen on {[s['listen'] for s in listen.values()]}"


def check_sources(carry_dir, pins):
    manifest = _manifest(carry_dir)
    out, problems = {}, []
    for name, pin in carry.PINS.items():
        commit = pins.get(name, pin["commit"])
        entry = manifest.get("sources", {}).get(name)
        path = os.path.join(carry_dir, f"{name}.tar.gz")
        if entry is None or not os.path.exists(path):
            problems.append(f"{name}: {name}.tar.gz or its manifest entry is missing; pack it with "
                            f"`python3 bench/gpu/comfyui_smoke.py prep sources --git {name}=<git dir of {pin['url']}>`")
            continue
        bad = carry.verify(path, entry, commit)
        problems += [f"{name}: {p}" for p in bad]
        if not bad:
            out[name] = {"commit": commit, "files": entry["files"], "bytes": entry["bytes"],
                         "omitted": [o["path"] for o in entry["omitted"]]}
    if problems:
        raise ValueError("; ".join(problems))
    return out


def check_tools(carry_dir):
    manifest = _manifest(carry_dir)
    out, problems = {}, []
    for name, why in TOOLS.items():
        entry = manifest.get("tools", {}).get(name)
        if entry is None or not os.path.exists(os.path.join(carry_dir, entry["file"])):
            if name == "ffmpeg":
                out[name] = "not carried: the GPU machine must have an ffmpeg with libx264 on PATH"
                continue
            problems.append(f"{name} ({why}) is not carried; add it with "
                            f"`python3 bench/gpu/comfyui_smoke.py prep tools --{name} <path>`")
            continue
        if carry.sha256_file(os.path.join(carry_dir, entry["file"])) != entry["sha256"]:
            problems.append(f"{entry['file']}: sha256 differs from the manifest")
            continue
        out[name] = entry["version"]
    bundles = [("vace", "vace.cjs.xz", "the vace CLI bundled for node")]
    if stored_forms():
        bundles.append(("fp8_convert", "fp8-convert.cjs.xz", "the image build's FP8 converter bundled for node"))
    for key, file, what in bundles:
        entry = manifest.get(key)
        if entry is None or not os.path.exists(os.path.join(carry_dir, file)):
            problems.append(f"{file} ({what}) is missing; make it with `python3 bench/gpu/comfyui_smoke.py prep tools`")
        elif carry.sha256_file(os.path.join(carry_dir, file)) != entry["sha256"]:
            problems.append(f"{file}: sha256 differs from the manifest")
        else:
            out[file] = f"bundled from commit {entry['commit']}"
    wheels = manifest.get("wheels", [])
    out["wheels"] = wheels or "none carried: every import in the preflight list must be on the GPU image"
    if problems:
        raise ValueError("; ".join(problems))
    return out


def stored_forms():
    """Folders whose model the image stores converted (docker/models.json `stored`, issue 13)."""
    return {folder: m["stored"] for folder, m in model_files.models_manifest().items() if m.get("stored")}


def check_size(carry_dir):
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(carry_dir) for f in fs)
    if total > DEVICE_CARRY_LIMIT:
        raise ValueError(f"the carry folder holds {total} bytes; one call to the lent GPU machine takes at most "
                         f"{DEVICE_CARRY_LIMIT} bytes with the working tree: carry it in parts while the machine is warm")
    return f"{total} bytes of at most {DEVICE_CARRY_LIMIT} (the working tree travels too)"


def _manifest(carry_dir):
    path = os.path.join(carry_dir, "manifest.json")
    if not os.path.exists(path):
        return {}
    return carry.read_manifest(carry_dir)


def dry(carry_dir, out, work, pins):
    checks = [
        check("python syntax", check_syntax),
        check("pins match docker/comfyui/Dockerfile", check_pins),
        check("workflow model files match docker/models.json", check_workflow_models),
        check("model tensor specs reconcile with the real files' sizes", check_specs),
        check("umT5 tokenizer model", check_tokenizer),
        check("gateway configuration", check_gateway),
        check("carried sources at the pinned commits", lambda: check_sources(carry_dir, pins)),
        check("carried tools", lambda: check_tools(carry_dir)),
    ]
    if os.path.isdir(carry_dir):
        checks.append(check("carry size", lambda: check_size(carry_dir)))
    return {"ok": all(c["ok"] for c in checks), "carry": carry_dir, "checks": checks,
            "plan": plan(carry_dir, out, work), "workflow_classes": workflow_classes()}


# ---- prep (here) ---------------------------------------------------------------------------
def save_manifest(carry_dir, manifest):
    with open(os.path.join(carry_dir, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)


def prep_sources(carry_dir, gits, pins):
    manifest = _manifest(carry_dir)
    for spec in gits:
        name, _, git_dir = spec.partition("=")
        if name not in carry.PINS or not git_dir:
            raise SystemExit(f"--git {spec}: expected NAME=DIR with NAME one of {', '.join(carry.PINS)}")
        commit = pins.get(name, carry.PINS[name]["commit"])
        entry = carry.pack(git_dir, commit, os.path.join(carry_dir, f"{name}.tar.gz"))
        manifest.setdefault("sources", {})[name] = entry
        print(f"{name}: {entry['files']} files at {commit}, {entry['bytes']} bytes"
              + (f"; {len(entry['omitted'])} blobs absent from {git_dir}: "
                 + ", ".join(o["path"] for o in entry["omitted"]) if entry["omitted"] else ""))
    save_manifest(carry_dir, manifest)


def prep_tools(carry_dir, a):
    manifest = _manifest(carry_dir)
    tools = manifest.setdefault("tools", {})
    for name in TOOLS:
        # An explicit path always; else node and caddy from PATH unless already carried (xz takes minutes).
        path = getattr(a, name) or (shutil.which(name) if name != "ffmpeg" and name not in tools else None)
        if not path:
            continue
        version = subprocess.run([path, "version" if name == "caddy" else "-version" if name == "ffmpeg" else "--version"],
                                 capture_output=True, text=True).stdout.strip().splitlines()[0]
        with open(path, "rb") as src, lzma.open(os.path.join(carry_dir, f"{name}.xz"), "wb", preset=6) as dst:
            shutil.copyfileobj(src, dst)
        tools[name] = {"file": f"{name}.xz", "sha256": carry.sha256_file(os.path.join(carry_dir, f"{name}.xz")),
                       "version": version, "from": path}
        print(f"{name}: {version} from {path}")
    # The whole vace CLI in one file for node (esbuild comes with tsx): node_modules is 300+ MB. And the
    # image build's FP8 converter alone, for fp8_load.py.
    esbuild = os.path.join(REPO, "node_modules", ".bin", "esbuild")
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for key, entry, out in (("vace", os.path.join("cli", "index.ts"), "vace.cjs.xz"),
                            ("fp8_convert", os.path.join("bench", "gpu", "fp8-convert.ts"), "fp8-convert.cjs.xz")):
        bundle = subprocess.run([esbuild, os.path.join(REPO, entry), "--bundle", "--platform=node", "--target=node22",
                                 "--minify", "--log-level=warning"], check=True, capture_output=True).stdout
        with lzma.open(os.path.join(carry_dir, out), "wb") as fh:
            fh.write(bundle)
        manifest[key] = {"file": out, "sha256": carry.sha256_file(os.path.join(carry_dir, out)), "commit": commit}
    if a.wheels:
        os.makedirs(os.path.join(carry_dir, "wheels"), exist_ok=True)
        for f in sorted(os.listdir(a.wheels)):
            if f.endswith(".whl"):
                shutil.copy(os.path.join(a.wheels, f), os.path.join(carry_dir, "wheels", f))
        manifest["wheels"] = sorted(os.listdir(os.path.join(carry_dir, "wheels")))
    save_manifest(carry_dir, manifest)


# ---- run (GPU machine) ---------------------------------------------------------------------
class Run:
    def __init__(self, carry_dir, out, work):
        self.carry, self.out, self.work = carry_dir, out, work
        self.record = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "steps": {},
                       "content_checks": "skipped: the weights are random, so the pictures are noise"}
        self.procs = []

    def step(self, name, fn):
        t0 = time.time()
        print(f"== {name}", flush=True)
        try:
            result = fn()
            self.record["steps"][name] = {"ok": True, "seconds": round(time.time() - t0, 2), "result": result}
            return result
        except Exception as e:
            self.record["steps"][name] = {"ok": False, "seconds": round(time.time() - t0, 2), "error": str(e)[-4000:]}
            raise
        finally:
            self.save()

    def save(self):
        with open(os.path.join(self.out, "run.json"), "w") as fh:
            json.dump(self.record, fh, indent=1)

    def spawn(self, cmd, log, **kw):
        fh = open(log, "w")
        p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=False, **kw)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()


def preflight(run):
    missing = []
    for module, pip_name in REQUIRED_IMPORTS.items():
        try:
            __import__(module)
        except Exception as e:  # noqa: BLE001 - an import may fail with any error
            missing.append(f"{module} (pip {pip_name}): {type(e).__name__}: {e}"[:200])
    import torch
    if not torch.cuda.is_available():
        missing.append("CUDA: torch.cuda.is_available() is False")
    if missing:
        raise RuntimeError("missing on this machine (carry wheels with `prep tools --wheels DIR`): " + "; ".join(missing))
    props = torch.cuda.get_device_properties(0)
    return {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
            "gpu": props.name, "gpu_mem_GiB": round(props.total_memory / 2**30, 1)}


def install_wheels(run):
    wheels = os.path.join(run.carry, "wheels")
    if not os.path.isdir(wheels):
        return "none carried"
    site = os.path.join(run.work, "site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", site,
                    *[os.path.join(wheels, f) for f in sorted(os.listdir(wheels))]], check=True)
    sys.path.insert(0, site)
    os.environ["PYTHONPATH"] = site + os.pathsep + os.environ.get("PYTHONPATH", "")
    return sorted(os.listdir(wheels))


def unpack_tools(run):
    bin_dir = os.path.join(run.work, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    out = {}
    for name, entry in carry.read_manifest(run.carry).get("tools", {}).items():
        target = carry.unxz(os.path.join(run.carry, entry["file"]), os.path.join(bin_dir, name), 0o755)
        out[name] = subprocess.run([target, "version" if name == "caddy" else "-version" if name == "ffmpeg" else "--version"],
                                   capture_output=True, text=True).stdout.strip().splitlines()[0]
    carry.unxz(os.path.join(run.carry, "vace.cjs.xz"), os.path.join(bin_dir, "vace.cjs"))
    if os.path.exists(os.path.join(run.carry, "fp8-convert.cjs.xz")):
        carry.unxz(os.path.join(run.carry, "fp8-convert.cjs.xz"), os.path.join(bin_dir, "fp8-convert.cjs"))
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ["PATH"]
    if not shutil.which("ffmpeg"):
        raise RuntimeError("no ffmpeg: carry one (`prep tools --ffmpeg PATH`, a static x86-64 build with libx264)")
    out["ffmpeg_used"] = shutil.which("ffmpeg")
    return out


def unpack_sources(run):
    manifest = carry.read_manifest(run.carry)
    out = {}
    for name, pin in carry.PINS.items():
        path = os.path.join(run.carry, f"{name}.tar.gz")
        problems = carry.verify(path, manifest["sources"][name], pin["commit"])
        if problems:
            raise RuntimeError(f"{name}: " + "; ".join(problems))
        carry.extract(path, os.path.join(run.work, pin["dest"]))
        out[name] = {"commit": pin["commit"], "omitted": [o["path"] for o in manifest["sources"][name]["omitted"]]}
    return out


def make_models(run):
    import torch
    sys.path.insert(0, os.path.join(run.work, "ComfyUI"))
    specs = model_files.comfy_specs(torch)
    names = {"F16": torch.float16, "F32": torch.float32, "F8_E4M3": torch.float8_e4m3fn, "U8": torch.uint8}
    formula = {"diffusion_models": model_files.diffusion_formula(), "text_encoders": model_files.text_encoder_formula(0)}
    out = {}
    for i, (fname, folder, spec) in enumerate(specs):
        extra = {}
        if folder in formula:  # ComfyUI's classes and the hand-written list must agree exactly
            want = {(n, tuple(s), str(names[d])) for n, s, d in formula[folder] if n != "spiece_model"}
            got = {(n, tuple(s), str(d)) for n, s, d in spec}
            if want != got:
                raise RuntimeError(f"{fname}: ComfyUI's classes and model_files.py disagree: only in ComfyUI's "
                                   f"{sorted(got - want)[:8]}, only in model_files.py {sorted(want - got)[:8]}")
        if folder == "text_encoders":
            extra["spiece_model"] = torch.frombuffer(bytearray(model_files.spiece_proto()), dtype=torch.uint8)
        os.makedirs(os.path.join(run.work, "models", folder), exist_ok=True)
        t0 = time.time()
        path = os.path.join(run.work, "models", folder, fname)
        size = model_files.write_random(torch, spec, path, 1000 * (i + 1), extra)
        out[fname] = {"tensors": len(spec) + len(extra), "bytes": size, "write_s": round(time.time() - t0, 1)}
        if folder in stored_forms():
            # As the image's models stage does after the fetch (`vace models fp8`): the same converter
            # (cli/models/convert.ts), on this random file instead of the verified download.
            bin_dir = os.path.join(run.work, "bin")
            t0 = time.time()
            r = subprocess.run([os.path.join(bin_dir, "node"), os.path.join(bin_dir, "fp8-convert.cjs"), path,
                                path + ".fp8.partial"], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError(f"fp8-convert on {fname} exited {r.returncode}: {r.stderr[-2000:]}")
            os.replace(path + ".fp8.partial", path)
            out[fname]["stored"] = dict(json.loads(r.stdout), seconds=round(time.time() - t0, 1))
    with open(os.path.join(run.work, "extra_model_paths.yaml"), "w") as fh:
        fh.write(f"wan_vace:\n  base_path: {os.path.join(run.work, 'models')}\n  diffusion_models: diffusion_models\n"
                 "  text_encoders: text_encoders\n  vae: vae\n")
    os.makedirs(os.path.join(run.work, "no-frontend"), exist_ok=True)
    torch.cuda.empty_cache()  # ComfyUI runs in another process: hand back what generation held
    return out


def wait_http(url, seconds, proc, headers=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited ({proc.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
                return r.status
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def main_run(a):
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.work, exist_ok=True)
    report = dry(a.carry, a.out, a.work, {})
    # Caddy is still inside the carry folder here, and the size limit was the transfer's: the gateway
    # is checked for real when it starts.
    live = ("carry size", "gateway configuration")
    bad = [c for c in report["checks"] if not c["ok"] and c["check"] not in live]
    if bad:
        print(json.dumps(report, indent=1))
        print("dry checks failed; nothing was started", file=sys.stderr)
        return 1
    run = Run(a.carry, a.out, a.work)
    token = secrets.token_hex(32)
    steps = {s["step"]: s for s in report["plan"]}
    try:
        run.step("wheels", lambda: install_wheels(run))
        run.record["env"] = run.step("preflight", lambda: preflight(run))
        run.step("tools", lambda: unpack_tools(run))
        run.step("sources", lambda: unpack_sources(run))
        run.step("models", lambda: make_models(run))
        if shutil.which("nvidia-smi"):  # whole-GPU memory in use, sampled every 0.5 s for the peak
            # This process keeps its CUDA context: the baseline is subtracted in RESULTS.md.
            run.record["gpu_memory_used_before_comfyui_MiB"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                capture_output=True, text=True).stdout.strip()
            run.spawn(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "500"],
                      os.path.join(a.work, "gpu-mem.csv"))
        comfy = run.spawn(steps["comfyui"]["cmd"], os.path.join(a.out, "comfyui.log"), cwd=steps["comfyui"]["cwd"],
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
        run.step("comfyui-start", lambda: wait_http(f"http://127.0.0.1:{COMFY_PORT}/system_stats", 120, comfy))
        gw_env = dict(os.environ, VACE_TOKEN=token, VACE_UPSTREAM=f"127.0.0.1:{COMFY_PORT}", VACE_LISTEN=GATEWAY_LISTEN,
                      VACE_TLS="off", XDG_CONFIG_HOME=os.path.join(a.work, "caddy-config"))
        gateway = run.spawn(steps["gateway"]["cmd"], os.path.join(a.work, "gateway.log"), env=gw_env)
        run.step("gateway-start", lambda: wait_http(f"http://{GATEWAY_LISTEN}/healthz", 60, gateway))
        vace_env = dict(os.environ, VACE_TOKEN=token)
        videos = {}
        for profile in ("ci", "full"):
            def smoke(profile=profile):
                r = subprocess.run(steps[f"smoke-{profile}"]["cmd"], env=vace_env, capture_output=True, text=True,
                                   timeout=SMOKE_TIMEOUT_S[profile] + 60)
                report_json = os.path.join(a.work, f"smoke-{profile}", "report.json")
                video = None
                if os.path.exists(report_json):
                    shutil.copy(report_json, os.path.join(a.out, f"report-{profile}.json"))
                    with open(report_json) as fh:
                        video = (json.load(fh).get("video") or {}).get("file")
                if r.returncode != 0 or not video:
                    raise RuntimeError(f"vace smoke --profile {profile} exited {r.returncode}: {r.stdout[-1500:]} {r.stderr[-1500:]}")
                shutil.copy(video, os.path.join(a.out, f"video-{profile}.mp4"))
                videos[profile] = video
                return {"exit": r.returncode, "stdout_tail": r.stdout[-1500:]}
            run.step(f"smoke-{profile}", smoke)
        for profile in ("ci", "full"):
            def verify(profile=profile):
                cmd = [videos[profile] if c.startswith("(") else c for c in steps[f"verify-{profile}"]["cmd"]]
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    raise RuntimeError(f"vace verify exited {r.returncode}: {r.stdout[-2000:]} {r.stderr[-1000:]}")
                return json.loads(r.stdout)
            run.step(f"verify-{profile}", verify)

        def object_info():
            info = {}
            for cls in workflow_classes():
                req = urllib.request.Request(f"http://{GATEWAY_LISTEN}/object_info/{cls}",
                                             headers={"Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    info.update(json.load(r))
            with open(os.path.join(a.out, "object_info.json"), "w") as fh:
                json.dump(info, fh, indent=1, sort_keys=True)
            return sorted(info)
        run.step("object_info", object_info)
        return 0
    except Exception as e:  # noqa: BLE001 - recorded in run.json by step(); print the cause too
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        run.stop()
        mem = os.path.join(a.work, "gpu-mem.csv")
        if os.path.exists(mem):
            values = [int(v) for v in open(mem).read().split() if v.isdigit()]
            run.record["gpu_memory_used_peak_MiB"] = max(values) if values else None
        log = os.path.join(a.out, "comfyui.log")
        if os.path.exists(log):
            run.record["comfyui_prompt_seconds"] = re.findall(r"Prompt executed in ([0-9.]+) seconds", open(log).read())
        run.save()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("prep", "dry", "run"):
        p = sub.add_parser(name)
        if name == "prep":
            p.add_argument("what", choices=["sources", "tools"])
            p.add_argument("--git", action="append", default=[], help="NAME=GIT_DIR (comfyui, kjnodes, vhs)")
            for tool in TOOLS:
                p.add_argument(f"--{tool}", help=f"path of {TOOLS[tool]}")
            p.add_argument("--wheels", help="folder of .whl files the GPU image lacks")
        p.add_argument("--carry", default=DEFAULT_CARRY, help="folder of carried inputs (default .gpu/carry)")
        p.add_argument("--out", default=os.environ.get("OUT") or os.path.join(REPO, "out", "gpu-smoke"))
        p.add_argument("--work", default=os.path.join("/tmp", "vace-gpu-smoke"))
        p.add_argument("--pins", help="JSON file of NAME: commit replacing the pins (tests of the checker only)")
    a = ap.parse_args()
    pins = {}
    if a.pins:
        with open(a.pins) as fh:
            pins = json.load(fh)
    if a.cmd == "prep":
        os.makedirs(a.carry, exist_ok=True)
        if a.what == "sources":
            if not a.git:
                ap.error("prep sources needs --git NAME=DIR for comfyui, kjnodes and vhs")
            prep_sources(a.carry, a.git, pins)
        else:
            prep_tools(a.carry, a)
        return 0
    if a.cmd == "dry":
        report = dry(a.carry, a.out, a.work, pins)
        print(json.dumps(report, indent=1))
        return 0 if report["ok"] else 1
    return main_run(a)


if __name__ == "__main__":
    sys.exit(main())
