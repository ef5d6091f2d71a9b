# Closes the gateway's refused connections that a slow client keeps open (issue 9, item 2).
#
# The gateway answers an unauthenticated request at once (401/403 with Connection: close), but
# Caddy 2.6.2's Go 1.19 server then reads up to 256 KiB of the unread body before it closes the
# socket, bounded only by read_body (15 min, kept for slow authenticated uploads). No Caddy 2.6
# handler can shorten that read, so this host process does: it follows the access log and, GRACE
# seconds after a refused request was logged (time for the answer to leave), destroys that client's
# socket if it is still open (`ss -K`, kernel SOCK_DESTROY; needs root). The gateway runs on the
# host network, so its sockets are visible here. Authenticated requests are never touched.

import argparse
import json
import os
import subprocess
import sys
import time

REFUSED = (401, 403)
# Sockets per `ss -K` call: keeps its filter argument short.
BATCH = 64


# (ip, port) of a refused request's client, from one access-log line, else None.
def refused_peer(line):
    try:
        entry = json.loads(line)
        request = entry["request"]
        if entry.get("status") not in REFUSED:
            return None
        return str(request["remote_ip"]), int(request["remote_port"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# Yields lines appended to `path`, across Caddy's rolls (rename, then a new file): the old
# file stays open until its last line has been read, like `tail -F`. Starts at the end.
class LogFollower:
    def __init__(self, path):
        self.path = path
        self.handle = None
        self.ino = None
        self.rest = b""
        self._open(at_end=True)

    def _open(self, at_end):
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        if at_end:
            handle.seek(0, os.SEEK_END)
        self.handle, self.ino, self.rest = handle, os.fstat(handle.fileno()).st_ino, b""

    def lines(self):
        out = []
        if self.handle is not None:
            out += self._drain()
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = None
        if current is not None and current != self.ino:
            if self.handle is not None:
                self.handle.close()
            self._open(at_end=False)
            out += self._drain()
        return out

    def _drain(self):
        data = self.rest + self.handle.read()
        lines = data.split(b"\n")
        self.rest = lines.pop()
        return lines


# ss's filter for the gateway's established sockets to exactly these clients.
def ss_filter(port, peers):
    dst = " or ".join(f"dst [{ip}]:{p}" if ":" in ip else f"dst {ip}:{p}" for ip, p in peers)
    return f"( sport = :{port} ) and ( {dst} )"


# Destroys the gateway's sockets to `peers`; returns how many were still open.
def close_sockets(port, peers, run=subprocess.run):
    closed = 0
    for i in range(0, len(peers), BATCH):
        batch = peers[i : i + BATCH]
        args = ["ss", "-K", "-H", "-tn", "state", "established", ss_filter(port, batch)]
        done = run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"wan-vace-closer: ss -K failed: {done.stderr.strip()}", file=sys.stderr, flush=True)
            continue
        closed += sum(1 for line in done.stdout.splitlines() if line.strip())
    return closed


def main(argv):
    parser = argparse.ArgumentParser(description="close refused connections still open")
    parser.add_argument("--log", default="/var/log/wan-vace/access.log")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--grace", type=float, default=2.0, help="seconds after the answer")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    follower = LogFollower(args.log)
    pending = []
    print(f"wan-vace-closer: following {args.log}; port {args.port}, grace {args.grace}s", flush=True)
    while True:
        now = time.monotonic()
        for line in follower.lines():
            peer = refused_peer(line)
            if peer is not None:
                pending.append((now + args.grace, peer))
        due = [peer for at, peer in pending if at <= now]
        pending = [(at, peer) for at, peer in pending if at > now]
        if due:
            closed = close_sockets(args.port, sorted(set(due)))
            if closed:
                print(f"wan-vace-closer: closed {closed} refused connection(s) still open", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    main(sys.argv[1:])
