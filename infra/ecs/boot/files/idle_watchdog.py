"""Idle watchdog, run every minute by wan-vace-idle.timer.

Stops the instance with StopInstance(StoppedMode=StopCharging) once nobody has sent a
request for IDLE_STOP_MINUTES and ComfyUI has nothing running or pending. "Request" means a
line of the gateway's access log that was not refused (401/403): internet scanners are
refused all day and must not keep the instance up, and the gateway skips /healthz there, so
probes do not either. A `shutdown` from the OS would keep billing, so it is never used.
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


# The gateway's answers to requests without a valid token (and to cross-site requests).
REFUSED = (401, 403)
# The newest lines are at the end; a bounded read keeps each run cheap on a 50 MiB log.
TAIL_BYTES = 256 * 1024


def read_tail(path, limit=TAIL_BYTES):
    """The whole lines among the last `limit` bytes of the file; [] when there is no file."""
    try:
        with open(path, "rb") as handle:
            start = max(0, handle.seek(0, os.SEEK_END) - limit)
            handle.seek(start)
            data = handle.read(limit)
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").split("\n")
    # A read that starts mid-file starts mid-line: drop that fragment.
    return lines[1:] if start > 0 else lines


def last_request_in(lines):
    """`ts` of the newest Caddy JSON access line whose status is not 401/403, or None.

    Lines that are not such JSON are skipped, never guessed at."""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        ts, status = entry.get("ts"), entry.get("status")
        if type(ts) in (int, float) and type(status) is int and status not in REFUSED:
            return float(ts)
    return None


def remember(path, last_request_at):
    """The newer of `last_request_at` and the one stored at `path` (tmpfs, this boot only),
    stored back. A request stays counted after Caddy rolls the log or a refused flood pushes
    it out of the tail."""
    try:
        with open(path) as handle:
            known = float(handle.read().strip())
    except (FileNotFoundError, ValueError):
        known = None
    newest = max((t for t in (known, last_request_at) if t is not None), default=None)
    if newest is not None and newest != known:
        with open(f"{path}.tmp", "w") as handle:
            handle.write(f"{newest}\n")
        os.replace(f"{path}.tmp", path)
    return newest


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
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    access_log = env.get("WAN_VACE_ACCESS_LOG", "/var/log/wan-vace/access.log")
    last_request_at = remember(f"{run_dir}/last-request", last_request_in(read_tail(access_log)))
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
    with open(marker, "w") as handle:
        handle.write(f"{int(now)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
