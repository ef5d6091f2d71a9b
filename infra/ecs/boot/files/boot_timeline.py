#!/usr/bin/env python3
# wan-vace boot timeline (docs/cold-start.md), every boot: records in STATUS/boot-timeline.json
# when each phase first held. ComfyUI serves it read-only (/view?type=output&subfolder=wan-vace),
# so it leaves the host only through the token gateway. "models": the image's warm-up finished.
import json, os, socket, ssl, subprocess, sys, time, urllib.request

E = os.environ.get
STATUS = E("WAN_VACE_STATUS_DIR", "/var/lib/wan-vace/status")
FILE = os.path.join(STATUS, "boot-timeline.json")
DOCKER = E("WAN_VACE_DOCKER", "docker")
POLL = float(E("WAN_VACE_POLL_S", "2"))


def run(*cmd, timeout=30):
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout
    except (OSError, subprocess.TimeoutExpired):
        return 127, b""


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status == 200
    except (OSError, ValueError):
        return False


def gateway_ok():
    # Our own gateway on loopback. Its certificate names the public address (nothing to verify),
    # and with ACME it serves only its domain: send that as SNI and Host.
    host, _, port = E("WAN_VACE_GATEWAY", "127.0.0.1:443").rpartition(":")
    name = E("TLS_DOMAIN") or host
    try:
        with socket.create_connection((host, int(port)), 10) as s:
            with ssl._create_unverified_context().wrap_socket(s, server_hostname=name) as t:
                t.sendall(f"GET /healthz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
                return t.recv(12).startswith(b"HTTP/1.1 200")
    except (OSError, ValueError):
        return False


def warm_up(wait_s):
    rc, out = run(DOCKER, "exec", "-e", f"WAN_VACE_WARMUP_S={wait_s:.0f}", "wan-vace-comfyui",
                  "python", "/opt/wan-vace/warmup.py", timeout=wait_s + 60)
    try:
        return json.loads(out)
    except ValueError:
        return {"ok": False, "error": f"warm-up exited {rc}"}


def image_sources(refs):
    # ensure-image.sh's first decision per reference (present / pulled), or None until it decided
    # for each: a baked host has both images at boot, before the units have run ensure-image.sh.
    seen = {}
    try:
        with open(os.path.join(STATUS, "images.log")) as f:
            for line in f:
                how, _, ref = line.strip().partition(" ")
                seen.setdefault(ref, how)
    except OSError:
        pass
    if not all(r in seen for r in refs):
        return None
    return {how: [r for r in refs if seen[r] == how] for how in ("present", "pulled")}


def cloud_init_start():
    try:
        with open(E("WAN_VACE_CLOUD_INIT_STATUS", "/run/cloud-init/status.json")) as f:
            v1 = json.load(f)["v1"]
        return min(v1[s]["start"] for s in ("init-local", "init") if (v1.get(s) or {}).get("start"))
    except (OSError, ValueError, KeyError):
        return None


def main():
    try:
        with open(FILE) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        doc = {"version": 1, "phases": {}, "boots": []}

    def mark(phase, at=None, **detail):  # first time only: a driver reboot starts a second boot
        if phase not in doc["phases"]:
            doc["phases"][phase] = dict(at=round(at or time.time(), 3), **detail)
        os.makedirs(STATUS, mode=0o755, exist_ok=True)
        with open(FILE + ".tmp", "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.chmod(FILE + ".tmp", 0o644)
        os.replace(FILE + ".tmp", FILE)

    with open(E("WAN_VACE_BOOT_ID_FILE", "/proc/sys/kernel/random/boot_id")) as f:
        boot = f.read().strip()
    doc["boots"] += [] if boot in doc["boots"] else [boot]
    mark("cloud-init", cloud_init_start())
    refs = [E("COMFYUI_IMAGE", ""), E("GATEWAY_IMAGE", "")]
    comfy = E("WAN_VACE_COMFYUI_URL", "http://127.0.0.1:8188")
    checks = {
        "driver": lambda: run(E("WAN_VACE_NVIDIA_SMI", "nvidia-smi"), "-L")[0] == 0,
        "docker": lambda: b'"nvidia"' in run(DOCKER, "info", "--format", "{{json .Runtimes}}")[1],
        "images": lambda: image_sources(refs) is not None and run(DOCKER, "image", "inspect", *refs)[0] == 0,
        "comfyui": lambda: answers(comfy + "/system_stats"),
        "gateway": gateway_ok,
    }
    end = time.time() + float(E("WAN_VACE_TIMELINE_S", "7200"))
    for phase in ["driver", "docker", "images", "comfyui", "models", "gateway"]:
        while phase not in doc["phases"]:
            if phase == "models":
                mark(phase, **warm_up(max(60, end - time.time())))
            elif checks[phase]():
                mark(phase, **(image_sources(refs) if phase == "images" else {}))
                print("wan-vace-timeline:", phase, flush=True)
            elif time.time() > end:
                sys.exit(f"wan-vace-timeline: gave up waiting for {phase}")
            else:
                time.sleep(POLL)


if __name__ == "__main__":
    main()
