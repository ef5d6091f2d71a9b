# Whether an idle wan-vace GPU may be released: the pure decision, no I/O, stdlib only.
#
# idle_watchdog.py gathers the evidence on an ECS instance and calls StopInstance. A second
# caller (say a Kubernetes scaler that sets a Deployment's replicas to 0) imports this module,
# fills Evidence its own way (last authenticated request, requests in flight, ComfyUI's queue)
# and acts on decide(...)[0]. See docs/ecs-boot.md, "What idle means".

from collections import namedtuple

# now, booted_at: unix seconds. last_request_at: newest authenticated request, or None.
# in_flight: requests/sockets to ComfyUI still open. queue: 'busy' | 'idle' | 'down' | 'unknown'.
# unknown_since: start of the current unbroken run of 'unknown' answers (None when not unknown).
Evidence = namedtuple("Evidence", "now booted_at last_request_at in_flight queue unknown_since")
# Seconds: idle before a stop, grace after each boot, longest an unreadable queue counts as busy.
Policy = namedtuple("Policy", "idle grace unknown_limit")


# (stop?, reason): stay up on any sign of use; an unreadable queue only for p.unknown_limit.
def decide(e, p):
    if e.now - e.booted_at < p.grace:
        return False, f"booted {(e.now - e.booted_at) / 60:.0f} min ago, within the grace period"
    if e.in_flight > 0:
        return False, f"{e.in_flight} request(s) or socket(s) to ComfyUI still open"
    if e.queue == "busy":
        return False, "ComfyUI has prompts running or pending"
    unknown = ""
    if e.queue == "unknown":
        # A slow answer may mean a busy server, so it counts as busy, but a hung ComfyUI must not
        # bill forever: past the limit only the requests decide.
        since = e.unknown_since if e.unknown_since is not None else e.now
        if e.now - since < p.unknown_limit:
            return False, f"ComfyUI's queue could not be read for {(e.now - since) / 60:.0f} min"
        unknown = f" (its queue unreadable for {(e.now - since) / 60:.0f} min)"
    idle = e.now - max(e.booted_at, e.last_request_at or e.booted_at)
    if idle < p.idle:
        return False, f"last request {idle / 60:.0f} min ago"
    return True, f"no request for {idle / 60:.0f} min and ComfyUI is {e.queue}{unknown}"
