"""Scale-to-zero for the ACS target: a sidecar in the GPU pod; `--check` only prints.

An idle GPU pod bills per second. Every interval this scales the pod's own Deployment to 0 when
the stack's ttl has passed, or when the ECS idle watchdog's decision (idle_decision.decide, fed
with the evidence idle_watchdog.py gathers, both shipped beside this file in the scaler's
ConfigMap) says an instance would stop: no authenticated request for idleStopMinutes, nothing in
flight to ComfyUI, and its queue empty (an unreadable queue counts as busy for a bounded time).

The pod's containers share one network namespace and the gateway's log volume, so the evidence
is the same as on ECS: the access log, the pod's own /proc/net sockets to ComfyUI's port, and
ComfyUI's /queue on loopback. It PATCHes only `deployments/<name>/scale`, the one thing its Role
allows. Settings come from a mounted ConfigMap file that `pulumi up` updates in place, so a deploy
that extends the ttl needs no restart; `pulumi up` also sets replicas back, which is how it wakes.
"""

import datetime
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import idle_watchdog as watchdog
from idle_decision import Evidence, Policy, decide

FIELD_MANAGER = "wan-vace-scaler"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ScaleError(Exception):
    pass


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_time(text):
    """Unix seconds of an ISO 8601 UTC time like 2026-12-02T07:10:00Z."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def load_settings(path):
    """The ConfigMap's settings.json; ValueError naming the problem when it is unusable."""
    with open(path) as handle:
        settings = json.load(handle)
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: expected a JSON object")
    try:
        settings["expiresAtUnix"] = parse_time(str(settings["expiresAt"]))
        for key in ("idleStopMinutes", "graceMinutes", "unknownLimitMinutes", "intervalSeconds"):
            if type(settings[key]) is not int or settings[key] < 0:
                raise ValueError(f"{path}: {key} must be a whole number >= 0")
    except KeyError as error:
        raise ValueError(f"{path}: missing {error}") from error
    return settings


def scale_decision(settings, evidence):
    """(scale to 0?, reason). The ttl always applies; idle is idle_decision.decide, as on ECS."""
    if evidence.now >= settings["expiresAtUnix"]:
        return True, f"the stack's ttl ended at {settings['expiresAt']}"
    idle_minutes = settings["idleStopMinutes"]
    if idle_minutes <= 0:
        return False, f"idle scale-down is off; the ttl ends at {settings['expiresAt']}"
    policy = Policy(
        idle_minutes * 60, settings["graceMinutes"] * 60, settings["unknownLimitMinutes"] * 60
    )
    return decide(evidence, policy)


def gather(env, state, started_at, now):
    """(Evidence, state to store): the ECS watchdog's evidence, read inside the pod."""
    access_log = env["WAN_VACE_ACCESS_LOG"]
    seen, gap, position = watchdog.scan_log(access_log, state.get("log"), started_at)
    last_request_at = watchdog.newest(state.get("last_request_at"), seen, gap)
    queue_url = env.get("WAN_VACE_QUEUE_URL", "http://127.0.0.1:8188/queue")
    port = urllib.parse.urlsplit(queue_url).port or 80
    open_sockets = watchdog.in_flight(port, env.get("WAN_VACE_PROC_NET", "/proc/net"))
    queue = watchdog.queue_state(queue_url)
    unknown_since = (state.get("unknown_since") or now) if queue == "unknown" else None
    evidence = Evidence(now, started_at, last_request_at, open_sockets, queue, unknown_since)
    stored = {"last_request_at": last_request_at, "log": position, "unknown_since": unknown_since}
    return evidence, stored


def api_base(env):
    if env.get("KUBE_API_URL"):
        return env["KUBE_API_URL"].rstrip("/")
    host = env["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{env.get('KUBERNETES_SERVICE_PORT', '443')}"


def scale_to_zero(env, namespace, name):
    """PATCH the Deployment's scale subresource to 0 replicas; ScaleError on any failure."""
    token_file = env.get("KUBE_TOKEN_FILE", f"{SA_DIR}/token")
    with open(token_file) as handle:
        # Re-read every time: the kubelet rotates the projected token.
        token = handle.read().strip()
    url = (
        f"{api_base(env)}/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
        f"?fieldManager={FIELD_MANAGER}"
    )
    request = urllib.request.Request(
        url,
        data=json.dumps({"spec": {"replicas": 0}}).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/merge-patch+json",
            "Accept": "application/json",
        },
    )
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=env.get("KUBE_CA_FILE", f"{SA_DIR}/ca.crt"))
    try:
        with urllib.request.urlopen(request, timeout=20, context=context) as response:
            body = json.loads(response.read().decode() or "{}")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise ScaleError(f"HTTP {error.code} from the API server: {detail}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ScaleError(f"cannot reach the API server: {error}") from error
    return body.get("spec", {}).get("replicas")


def run_once(env, started_at, now=None, check=False):
    """One decision; returns the exit status (1 when a needed scale-down failed)."""
    now = time.time() if now is None else now
    try:
        settings = load_settings(env["WAN_VACE_SETTINGS"])
    except (OSError, ValueError) as error:
        # Never scale on a guess: a broken settings file keeps the pod up and says why.
        log(f"ERROR: cannot read the scaler settings ({error}); staying up")
        return 1
    run_dir = env.get("WAN_VACE_RUN_DIR", "/run/wan-vace-scaler")
    state_path = f"{run_dir}/scaler-state.json"
    evidence, stored = gather(env, watchdog.load_state(state_path), started_at, now)
    stop, reason = scale_decision(settings, evidence)
    if check:
        print(f"decision: {'scale to 0' if stop else 'stay up'}: {reason}")
        print(f"evidence: {json.dumps(evidence._asdict())}")
        print("check only: nothing stored, nothing scaled")
        return 0
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    watchdog.save_state(state_path, stored)
    log(("scaling to 0: " if stop else "staying up: ") + reason)
    if not stop:
        return 0
    try:
        replicas = scale_to_zero(env, env["WAN_VACE_NAMESPACE"], env["WAN_VACE_DEPLOYMENT"])
    except ScaleError as error:
        log(f"ERROR: scale to 0 failed ({error}); the next run retries")
        return 1
    log(f"deployment {env['WAN_VACE_DEPLOYMENT']} now asks for {replicas} replicas")
    return 0


def started_at_of(env):
    """When this pod's scaler started: the grace period and the first log scan count from it.
    A restarted scaler keeps the first start (stored in its memory volume), so a crash loop
    cannot extend the grace forever."""
    path = f"{env.get('WAN_VACE_RUN_DIR', '/run/wan-vace-scaler')}/started-at"
    try:
        with open(path) as handle:
            return float(handle.read().strip())
    except (FileNotFoundError, ValueError):
        pass
    now = time.time()
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(f"{now}\n")
    except OSError:
        pass
    return now


def main(argv):
    if argv and argv not in (["--once"], ["--check"]):
        print("usage: acs_scaler.py [--once | --check]", file=sys.stderr)
        return 2
    env = os.environ
    started_at = started_at_of(env)
    if argv:
        return run_once(env, started_at, check=argv == ["--check"])
    while True:
        run_once(env, started_at)
        try:
            interval = load_settings(env["WAN_VACE_SETTINGS"])["intervalSeconds"]
        except (OSError, ValueError):
            interval = 60
        time.sleep(max(10, interval))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
