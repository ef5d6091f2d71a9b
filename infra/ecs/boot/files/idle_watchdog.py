# Idle watchdog, run every minute by wan-vace-idle.timer; `--check` only prints.
#
# Stops the instance with StopInstance(StoppedMode=StopCharging) once idle_decision.decide says
# so: no authenticated request for IDLE_STOP_MINUTES, nothing in flight to ComfyUI, and its queue
# empty. A `shutdown` from the OS would keep billing, so it is never used. Evidence:
# - requests: every access-log line written since the last run (rolled files followed by inode),
#   not a tail, so no volume of refused (401/403) lines can hide an authenticated one;
# - in flight: ESTABLISHED sockets to ComfyUI's port (the gateway proxies only authenticated
#   requests, without keep-alive, so each is a running upload, download or WebSocket);
# - ComfyUI's /queue; an unreadable one counts as busy for at most IDLE_UNKNOWN_LIMIT_MINUTES.

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from idle_decision import Evidence, Policy, decide

# The gateway's answers to requests without a valid token (and to cross-site requests).
REFUSED = (b'"status":401', b'"status":403')
CHUNK = 1 << 20


# 'busy', 'idle', 'down' (nothing listening) or 'unknown' (slow or odd answer).
def queue_state(url):
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


# ESTABLISHED TCP sockets whose local port is `port` (ComfyUI's side of each connection):
# the least of a few samples, so the gateway's once-a-second health probe, a connection of a
# few milliseconds, never counts, while a real upload, download or WebSocket does.
def in_flight(port, proc_net="/proc/net", samples=3, gap=0.2):
    counts = []
    for sample in range(samples):
        if sample:
            time.sleep(gap)
        counts.append(_established(port, proc_net))
    return min(counts)


def _established(port, proc_net):
    count = 0
    for name in ("tcp", "tcp6"):
        try:
            with open(f"{proc_net}/{name}") as handle:
                rows = handle.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


# `ts` of a Caddy JSON access line that was not refused, else None (never a guess).
def request_ts(line):
    if any(refused in line for refused in REFUSED):  # cheap: floods are refused lines
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    ts, status = entry.get("ts"), entry.get("status")
    if type(ts) in (int, float) and type(status) is int and status not in (401, 403):
        return float(ts)
    return None


# [(path, inode, size, mtime)]: Caddy's rolled files (name-<time>.ext, oldest first), then path.
def log_files(path):
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    found = []
    try:
        entries = sorted(os.scandir(folder or "."), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    rolled = [e for e in entries if e.name.startswith(f"{stem}-") and e.name.endswith(ext)]
    current = [e for e in entries if e.name == name]
    for entry in rolled + current:
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            found.append((entry.path, st.st_ino, st.st_size, st.st_mtime))
    return found


# (newest request ts or None, gap, position to store). Reads what was written since
# `position` ({"ino", "off"} of the current file at the last run). `gap` is the ts of the
# first line read when earlier lines were lost (rolled away, or the file replaced), else None.
def scan_log(path, position, booted_at):
    files = log_files(path)
    start, offset, lost = 0, 0, False
    if position:
        match = [i for i, f in enumerate(files) if f[1] == position["ino"] and f[2] >= position["off"]]
        if match:
            start, offset = match[0], position["off"]
        else:
            lost = True
    else:
        # First run of this boot: only files written since the boot can hold its requests.
        start = next((i for i, f in enumerate(files) if f[3] >= booted_at), len(files))
    newest, gap, stored = None, None, position
    for index, (name, ino, _size, _mtime) in enumerate(files[start:], start):
        last_file = index == len(files) - 1 and name == path
        with open(name, "rb") as handle:
            handle.seek(offset)
            rest = b""
            while True:
                chunk = handle.read(CHUNK)
                lines = (rest + chunk).split(b"\n")
                # A file's last line may still be being written: keep it for the next run.
                rest = lines.pop() if (chunk or last_file) else b""
                for line in lines:
                    if lost and gap is None and line.strip():
                        entry_ts = _ts(line)
                        gap = entry_ts if entry_ts is not None else time.time()
                    ts = request_ts(line)
                    if ts is not None and (newest is None or ts > newest):
                        newest = ts
                if not chunk:
                    break
                offset += len(chunk)
            if last_file:
                stored = {"ino": ino, "off": offset - len(rest)}
        offset = 0
    if lost and gap is None:
        gap = time.time()
    return newest, gap, stored


def _ts(line):
    try:
        ts = json.loads(line).get("ts")
    except (ValueError, AttributeError):
        return None
    return float(ts) if type(ts) in (int, float) else None


def load_state(path):
    try:
        with open(path) as handle:
            state = json.load(handle)
        return state if isinstance(state, dict) else {}
    except (FileNotFoundError, ValueError):
        return {}


def save_state(path, state):
    with open(f"{path}.tmp", "w") as handle:
        json.dump(state, handle)
    os.replace(f"{path}.tmp", path)


def newest(*values):
    return max((v for v in values if v is not None), default=None)


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] and not check:
        print("usage: idle_watchdog.py [--check]", file=sys.stderr)
        return 2
    env = os.environ
    say = (lambda m: print(m, flush=True)) if check else (lambda m: print(m, file=sys.stderr, flush=True))
    idle_minutes = int(env.get("IDLE_STOP_MINUTES", "0"))
    if idle_minutes <= 0:
        say("idle stop is disabled (IDLE_STOP_MINUTES=0)")
        return 0
    run_dir = env.get("WAN_VACE_RUN_DIR", "/run/wan-vace")
    marker = f"{run_dir}/stop-requested"
    if os.path.exists(marker):
        # /run is tmpfs, so this only holds within the boot that asked to stop.
        say("a stop was already requested during this boot")
        return 0
    now = time.time()
    with open(env.get("WAN_VACE_PROC_UPTIME", "/proc/uptime")) as handle:
        booted_at = now - float(handle.read().split()[0])
    state_path = f"{run_dir}/idle-state.json"
    state = load_state(state_path)
    access_log = env.get("WAN_VACE_ACCESS_LOG", "/var/log/wan-vace/access.log")
    seen, gap, position = scan_log(access_log, state.get("log"), booted_at)
    last_request_at = newest(state.get("last_request_at"), seen, gap)
    queue_url = env.get("WAN_VACE_QUEUE_URL", "http://127.0.0.1:8188/queue")
    open_sockets = in_flight(urllib.parse.urlsplit(queue_url).port or 80, env.get("WAN_VACE_PROC_NET", "/proc/net"))
    queue = queue_state(queue_url)
    unknown_since = (state.get("unknown_since") or now) if queue == "unknown" else None
    policy = Policy(idle_minutes * 60, int(env.get("IDLE_GRACE_MINUTES", "30")) * 60,
                    int(env.get("IDLE_UNKNOWN_LIMIT_MINUTES", "60")) * 60)
    evidence = Evidence(now, booted_at, last_request_at, open_sockets, queue, unknown_since)
    stop, reason = decide(evidence, policy)
    if check:
        at = lambda t: "none" if t is None else f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))} ({(now - t) / 60:.0f} min ago)"  # noqa: E731
        say(f"decision: {'stop' if stop else 'stay up'}: {reason}")
        say(f"booted: {at(booted_at)}")
        say(f"last authenticated request: {at(last_request_at)}")
        if gap is not None:
            say(f"access log lines were lost (rolled away): a request is assumed at {at(gap)}")
        say(f"in flight to ComfyUI: {open_sockets}")
        say(f"queue ({queue_url}): {queue}" + (f", unreadable since {at(unknown_since)}" if unknown_since else ""))
        say(f"policy: idle {policy.idle // 60} min, grace {policy.grace // 60} min, unreadable queue counts as busy for {policy.unknown_limit // 60} min")
        say("check only: nothing stored, nothing stopped")
        return 0
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    save_state(state_path, {"last_request_at": last_request_at, "log": position, "unknown_since": unknown_since})
    say(("stopping: " if stop else "staying up: ") + reason)
    if not stop:
        return 0
    from aliyun_rpc import Metadata, RpcError, stop_instance_charging

    try:
        stop_instance_charging(Metadata(), env["REGION"])
    except (RpcError, OSError, KeyError) as error:
        say(f"ERROR: StopInstance failed ({error}); the next run retries")
        return 1
    with open(marker, "w") as handle:
        handle.write(f"{int(now)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
