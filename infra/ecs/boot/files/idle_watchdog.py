"""Idle watchdog, run every minute by wan-vace-idle.timer.

Stops the instance with StopInstance(StoppedMode=StopCharging) once nobody has sent a
request for IDLE_STOP_MINUTES and ComfyUI has nothing running or pending. "Request" means
the gateway's access log was written: the gateway skips /healthz there, so probes do not
keep the instance alive. A `shutdown` from the OS would keep billing, so it is never used.
"""

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

from aliyun_rpc import Metadata, RpcError, log, stop_instance_charging


def queue_state(url):
    """'busy', 'idle', 'down' (nothing listening) or 'unknown' (slow or odd answer)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            queue = json.loads(response.read().decode())
    except urllib.error.URLError as error:
        return "down" if isinstance(error.reason, ConnectionRefusedError) else "unknown"
    except ConnectionRefusedError:
        return "down"
    except (socket.timeout, OSError, ValueError):
        return "unknown"
    if not isinstance(queue, dict):
        return "unknown"
    return "busy" if queue.get("queue_running") or queue.get("queue_pending") else "idle"


def decide(now, booted_at, last_request_at, queue, idle_seconds, grace_seconds):
    """Returns (stop?, reason). Pure, so every branch is testable without a cloud."""
    if now - booted_at < grace_seconds:
        return False, f"booted {(now - booted_at) / 60:.0f} min ago, within the grace period"
    if queue == "busy":
        return False, "ComfyUI has prompts running or pending"
    if queue == "unknown":
        # A slow or odd answer may mean a busy server: never stop on a guess.
        return False, "ComfyUI's queue could not be read"
    last = max(booted_at, last_request_at or booted_at)
    idle = now - last
    if idle < idle_seconds:
        return False, f"last request {idle / 60:.0f} min ago"
    return True, f"no request for {idle / 60:.0f} min and ComfyUI is {queue}"


def main():
    env = os.environ
    idle_minutes = int(env.get("IDLE_STOP_MINUTES", "0"))
    if idle_minutes <= 0:
        log("idle stop is disabled (IDLE_STOP_MINUTES=0)")
        return 0
    run_dir = env.get("WAN_VACE_RUN_DIR", "/run/wan-vace")
    marker = f"{run_dir}/stop-requested"
    if os.path.exists(marker):
        # /run is tmpfs, so this only holds within the boot that asked to stop.
        log("a stop was already requested during this boot")
        return 0
    now = time.time()
    with open(env.get("WAN_VACE_PROC_UPTIME", "/proc/uptime")) as handle:
        booted_at = now - float(handle.read().split()[0])
    try:
        last_request_at = os.stat(env.get("WAN_VACE_ACCESS_LOG", "/var/log/wan-vace/access.log")).st_mtime
    except FileNotFoundError:
        last_request_at = None
    queue = queue_state(env.get("WAN_VACE_QUEUE_URL", "http://127.0.0.1:8188/queue"))
    stop, reason = decide(
        now,
        booted_at,
        last_request_at,
        queue,
        idle_minutes * 60,
        int(env.get("IDLE_GRACE_MINUTES", "30")) * 60,
    )
    log(("stopping: " if stop else "staying up: ") + reason)
    if not stop:
        return 0
    try:
        stop_instance_charging(Metadata(), env["REGION"])
    except (RpcError, OSError, KeyError) as error:
        log(f"ERROR: StopInstance failed ({error}); the next run retries")
        return 1
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    with open(marker, "w") as handle:
        handle.write(f"{int(now)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
