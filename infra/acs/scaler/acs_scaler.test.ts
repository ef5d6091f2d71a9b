/**
 * The ACS scaler, run from a folder holding exactly its ConfigMap's files (so a missing import
 * fails here), against a fake Kubernetes API server and a fake ComfyUI /queue on local ports.
 * Its decision is the ECS watchdog's (idle_decision.decide) plus the ttl; tested like the watchdog's.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../../../test/binaries";
import { scalerSettings } from "../manifests";
import { scalerFiles } from ".";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A fake API server: records each request; answers the scale PATCH with `status`. */
class FakeApi {
  seen: Seen[] = [];
  status = 200;
  private server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += String(c);
    });
    req.on("end", () => {
      this.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(this.status, { "Content-Type": "application/json" });
      res.end(
        this.status === 200
          ? JSON.stringify({ kind: "Scale", apiVersion: "autoscaling/v1", spec: { replicas: 0 } })
          : JSON.stringify({ kind: "Status", message: 'deployments.apps "vace" is forbidden' }),
      );
    });
  });
  url = "";
  async start() {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop() {
    return new Promise((r) => this.server.close(r));
  }
}

/** ComfyUI's /queue as the pinned server.py answers it. */
class FakeQueue {
  body: unknown = { queue_running: [], queue_pending: [] };
  private server: Server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(typeof this.body === "string" ? this.body : JSON.stringify(this.body));
  });
  port = 0;
  async start() {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  stop() {
    return new Promise((r) => this.server.close(r));
  }
}

const line = (ts: number, status: number) =>
  JSON.stringify({
    level: "info",
    ts,
    logger: "http.log.access",
    request: { uri: "/queue" },
    status,
  });
const ago = (minutes: number) => Date.now() / 1000 - minutes * 60;
const iso = (unix: number) => `${new Date(unix * 1000).toISOString().slice(0, 19)}Z`;

describe("ACS scaler", () => {
  const python = requireBinary("python3");
  const api = new FakeApi();
  const queue = new FakeQueue();
  let dir = "";
  let files = "";
  let n = 0;

  beforeAll(async () => {
    await Promise.all([api.start(), queue.start()]);
    dir = mkdtempSync(join(tmpdir(), "wan-vace-scaler-"));
    files = join(dir, "configmap");
    mkdirSync(files);
    for (const [name, text] of Object.entries(scalerFiles()))
      writeFileSync(join(files, name), text);
    writeFileSync(join(dir, "token"), "projected-sa-token-0123\n");
  });
  afterAll(async () => {
    await Promise.all([api.stop(), queue.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A pod's worth of state: settings, access log, run dir (optionally started long ago), /proc/net. */
  function pod(o: {
    expiresAt: number;
    idle?: number;
    startedMinutesAgo?: number;
    log?: string[];
    sockets?: number;
  }) {
    const root = join(dir, `pod-${n++}`);
    mkdirSync(join(root, "run"), { recursive: true });
    mkdirSync(join(root, "logs"));
    mkdirSync(join(root, "net"));
    const settings = scalerSettings({
      expiresAt: iso(o.expiresAt),
      config: { idleStopMinutes: o.idle ?? 30 },
      acs: { replicas: 1 },
    });
    writeFileSync(join(root, "settings.json"), settings);
    if (o.startedMinutesAgo !== undefined)
      writeFileSync(join(root, "run", "started-at"), `${ago(o.startedMinutesAgo)}\n`);
    if (o.log) writeFileSync(join(root, "logs", "access.log"), `${o.log.join("\n")}\n`);
    // /proc/net/tcp rows: ESTABLISHED (01) sockets whose local port is ComfyUI's.
    const port = queue.port.toString(16).toUpperCase().padStart(4, "0");
    const rows = Array.from(
      { length: o.sockets ?? 0 },
      (_, i) =>
        `   ${i}: 0100007F:${port} 0100007F:D431 01 00000000:00000000 00:00000000 00000000 10001 0 1 1 0 20 4 30 10 -1`,
    );
    writeFileSync(
      join(root, "net", "tcp"),
      ["  sl  local_address rem_address   st", ...rows, ""].join("\n"),
    );
    return root;
  }

  const run = (root: string, args: string[] = ["--once"]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        python,
        [join(files, "acs_scaler.py"), ...args],
        {
          cwd: files,
          timeout: 30_000,
          env: {
            PATH: process.env.PATH ?? "",
            PYTHONDONTWRITEBYTECODE: "1",
            KUBE_API_URL: api.url,
            KUBE_TOKEN_FILE: join(dir, "token"),
            WAN_VACE_NAMESPACE: "vace-dev",
            WAN_VACE_DEPLOYMENT: "vace",
            WAN_VACE_SETTINGS: join(root, "settings.json"),
            WAN_VACE_ACCESS_LOG: join(root, "logs", "access.log"),
            WAN_VACE_RUN_DIR: join(root, "run"),
            WAN_VACE_QUEUE_URL: `http://127.0.0.1:${queue.port}/queue`,
            WAN_VACE_PROC_NET: join(root, "net"),
          },
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  it("scale_decision: the ttl always wins; otherwise the ECS watchdog's decide() rules", async () => {
    const H = 3600;
    const T = 100 * H; // ttl end
    // [name, now, started_at, last_request_at, in_flight, queue, unknown_since, idleStopMinutes]
    const cases: [string, number, number, number | null, number, string, number | null, number][] =
      [
        ["ttl passed while busy", T, 0, T - 60, 3, "busy", null, 30],
        ["ttl passed, idle stop off", T + 1, 0, null, 0, "idle", null, 0],
        ["idle stop off", 5 * H, 0, null, 0, "idle", null, 0],
        ["grace", 10 * 60, 0, null, 0, "idle", null, 30],
        ["in flight", 5 * H, 0, H, 1, "idle", null, 30],
        ["busy", 5 * H, 0, H, 0, "busy", null, 30],
        ["unreadable 59 min", 5 * H, 0, H, 0, "unknown", 5 * H - 59 * 60, 30],
        ["unreadable 61 min", 5 * H, 0, H, 0, "unknown", 5 * H - 61 * 60, 30],
        ["recent request", 5 * H, 0, 5 * H - 29 * 60, 0, "idle", null, 30],
        ["idle since start", 31 * 60, 0, null, 0, "idle", null, 30],
        ["comfyui down, old request", 5 * H, 0, 2 * H, 0, "down", null, 30],
      ];
    const code = [
      "import json, sys, acs_scaler as s",
      "from idle_decision import Evidence",
      "out = {}",
      "for name, now, start, last, flying, queue, since, idle in json.loads(sys.argv[1]):",
      "    settings = {'expiresAt': 'T', 'expiresAtUnix': 360000, 'idleStopMinutes': idle, 'graceMinutes': 30, 'unknownLimitMinutes': 60}",
      "    out[name] = s.scale_decision(settings, Evidence(now, start, last, flying, queue, since))[0]",
      "print(json.dumps(out))",
    ].join("\n");
    const result = await new Promise<string>((resolve, reject) =>
      execFile(
        python,
        ["-c", code, JSON.stringify(cases)],
        { cwd: files, env: { PATH: process.env.PATH ?? "", PYTHONDONTWRITEBYTECODE: "1" } },
        (e, out, err) => (e ? reject(new Error(err)) : resolve(out)),
      ),
    );
    expect(JSON.parse(result)).toEqual({
      "ttl passed while busy": true,
      "ttl passed, idle stop off": true,
      "idle stop off": false,
      grace: false,
      "in flight": false,
      busy: false,
      "unreadable 59 min": false,
      "unreadable 61 min": true,
      "recent request": false,
      "idle since start": true,
      "comfyui down, old request": true,
    });
  });

  it("at the ttl, PATCHes this Deployment's scale subresource to 0 with the pod's token", async () => {
    const before = api.seen.length;
    const r = await run(pod({ expiresAt: ago(1), startedMinutesAgo: 5 }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/scaling to 0: the stack's ttl ended at /);
    expect(r.stderr).toContain("now asks for 0 replicas");
    const calls = api.seen.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      method: "PATCH",
      url: "/apis/apps/v1/namespaces/vace-dev/deployments/vace/scale?fieldManager=wan-vace-scaler",
      body: '{"spec": {"replicas": 0}}',
    });
    expect(calls[0]?.headers).toMatchObject({
      authorization: "Bearer projected-sa-token-0123",
      "content-type": "application/merge-patch+json",
    });
  });

  it("stays up after a recent authenticated request, even under a flood of refused ones", async () => {
    queue.body = { queue_running: [], queue_pending: [] };
    const before = api.seen.length;
    const flood = Array.from({ length: 2000 }, () => line(ago(1), 401));
    const r = await run(
      pod({ expiresAt: ago(-120), startedMinutesAgo: 240, log: [line(ago(10), 200), ...flood] }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("staying up: last request 10 min ago");
    expect(api.seen.length).toBe(before);
  });

  it("scales an idle pod to 0, and stays up while a request is in flight or the queue is busy", async () => {
    const idle = {
      expiresAt: ago(-120),
      startedMinutesAgo: 240,
      log: [line(ago(90), 200), line(ago(1), 401)],
    };
    queue.body = { queue_running: [[0, "p0", {}, {}, []]], queue_pending: [] };
    const before = api.seen.length;
    const busy = await run(pod(idle));
    expect(busy.stderr).toContain("staying up: ComfyUI has prompts running or pending");
    queue.body = { queue_running: [], queue_pending: [] };
    const flying = await run(pod({ ...idle, sockets: 2 }));
    expect(flying.stderr).toContain("staying up: 2 request(s) or socket(s) to ComfyUI still open");
    expect(api.seen.length).toBe(before);
    const stopped = await run(pod(idle));
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain("scaling to 0: no request for 90 min and ComfyUI is idle");
    expect(api.seen.length).toBe(before + 1);
  });

  it("--check prints the decision and scales nothing", async () => {
    const before = api.seen.length;
    const r = await run(pod({ expiresAt: ago(1) }), ["--check"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("decision: scale to 0: the stack's ttl ended");
    expect(r.stdout).toContain("check only: nothing stored, nothing scaled");
    expect(api.seen.length).toBe(before);
  });

  it("a refused PATCH fails the run, naming the API's answer; bad settings never scale", async () => {
    api.status = 403;
    try {
      const refused = await run(pod({ expiresAt: ago(1) }));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /ERROR: scale to 0 failed \(HTTP 403 .*forbidden.*\); the next run retries/,
      );
    } finally {
      api.status = 200;
    }
    const root = pod({ expiresAt: ago(1) });
    writeFileSync(join(root, "settings.json"), '{"expiresAt": "never"}');
    const before = api.seen.length;
    const broken = await run(root);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/ERROR: cannot read the scaler settings .*; staying up/);
    expect(api.seen.length).toBe(before);
    expect((await run(root, ["--forever"])).code).toBe(2);
  });
});
